// The `_esm` anywidget gets for every steprun widget: a small loader, not the whole frontend.
//
// Each model's `_esm` is kept in saved widget state (nbclient, nbconvert --execute, JupyterLab's
// "save widget state"), so a copy of the ~100 kB bundle per widget made saved notebooks grow with
// every widget shown. The kernel (steprun_widgets/widgets/frontend.py) gives the code inline to one
// widget per bundle (the "carrier") and this loader alone to the others; the code is imported once
// per page and kept in a page-global promise that every later widget of the same bundle and hash
// shares. A widget that finds no code on the page (its carrier was closed, or the page holds
// no other widget, as each output of some hosts is a page of its own) asks its kernel once.
//
// The kernel replaces __SRW_FRONTEND__ with {name, hash, js, css}; js and css are null but in
// the carrier. It works wherever anywidget does (anywidget imports `_esm` text the same way).

const FRONTEND = __SRW_FRONTEND__;
const KEY = `${FRONTEND.name}@${FRONTEND.hash}`;
// The carrier is made first, so its code is usually on the page already; a moment's wait keeps
// the others from each asking the kernel for it meanwhile.
const ASK_AFTER_MS = 1500;
const NOT_LIVE =
  "Not live: no kernel is behind this view any more (it restarted or stopped, or this notebook " +
  "was saved and reopened), so it shows the run's last state seen here. Run the cell again to " +
  "follow the run.";

const pages = (globalThis[Symbol.for("steprun-widgets.frontend")] ??= new Map());

function entry() {
  let found = pages.get(KEY);
  if (!found) {
    let resolve, reject;
    const promise = new Promise((res, rej) => ((resolve = res), (reject = rej)));
    // waiting: model -> { onMessage, timer } of each model that may still ask its kernel
    found = { promise, resolve, reject, started: false, css: "", styled: new WeakSet(), waiting: new Map() };
    pages.set(KEY, found);
  }
  return found;
}

async function importText(js) {
  const url = URL.createObjectURL(new Blob([js], { type: "text/javascript" }));
  try {
    return await import(/* @vite-ignore */ url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

function provide(found, js, css) {
  if (found.started) return;
  found.started = true;
  found.css = css;
  // Whichever way the code came (a carrier, or one model's reply), no model asks or waits any more.
  for (const [model, { onMessage, timer }] of found.waiting) {
    clearTimeout(timer);
    model.off("msg:custom", onMessage);
  }
  found.waiting.clear();
  importText(js).then(found.resolve, found.reject);
}

// Runs from both initialize and render (once per view): a model registers and asks only once.
function load(model) {
  const found = entry();
  if (FRONTEND.js !== null) provide(found, FRONTEND.js, FRONTEND.css);
  if (!found.started && !found.waiting.has(model)) {
    const onMessage = (msg) => {
      if (msg?.type === "srw-frontend" && msg.hash === FRONTEND.hash) provide(found, msg.js, msg.css);
    };
    const timer = setTimeout(() => found.started || model.send({ type: "srw-frontend" }), ASK_AFTER_MS);
    found.waiting.set(model, { onMessage, timer });
    model.on("msg:custom", onMessage);
  }
  return found.promise;
}

// Once per document, or per shadow root where the host renders widgets in one (marimo).
function style(found, el) {
  const root = el.getRootNode();
  const target = root instanceof ShadowRoot ? root : document.head;
  if (found.styled.has(target)) return;
  found.styled.add(target);
  const node = document.createElement("style");
  node.dataset.srwFrontend = KEY;
  node.textContent = found.css;
  target.append(node);
}

export default {
  // Starts getting the code, without waiting for it: anywidget holds a model's incoming messages
  // until its initialize has resolved (AnyModel._handle_comm_msg awaits the runtime), so waiting
  // here for the kernel's reply would wait forever. The bundles export only render.
  initialize({ model }) {
    load(model);
  },
  async render(context) {
    const { model, el } = context;
    const found = entry();
    const code = await load(model);
    style(found, el);
    // Marks a rendered view: the snapshot output beside it is hidden (display.py's CSS).
    el.classList.add("srw-live");
    const dispose = await code.default.render(context);
    // ipywidgets sets a model's comm dead when its kernel restarts, and a model restored from a
    // saved notebook's widget state has none (its view gets ipywidgets' "disconnected" class): the
    // view stays at its last state, and says so; "srw-not-live" on el tells the view (its
    // controls that need the kernel go, step_widget.js and pipeline_widget.js).
    const notLive = () => {
      if (el.querySelector(":scope > .srw-not-live")) return;
      const note = document.createElement("div");
      note.className = "srw-not-live";
      note.setAttribute("role", "status");
      note.textContent = NOT_LIVE;
      el.prepend(note);
      el.dispatchEvent(new CustomEvent("srw-not-live"));
    };
    model.on("comm_live_update", notLive);
    if (el.classList.contains("jupyter-widgets-disconnected")) notLive();
    return () => {
      model.off("comm_live_update", notLive);
      return dispose?.();
    };
  },
};
