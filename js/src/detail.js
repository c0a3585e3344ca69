import { h } from "./dom.js";

// The pane below the graph: a header for the selected step (from the `steps` trait) and, under
// it, that step's own StepRunWidget view, rendered through anywidget's host API from the
// `selected_step` reference: host.getWidget(ref) -> child.render({ el, signal }). Each child
// view gets its own AbortController; aborting it makes anywidget run the child's cleanup.

export const NO_HOST_HINT = "Display StepRunWidget(run.find_step_run(name)[0]) to see this step's logs";
export const NOTHING_SELECTED = "Select a step in the graph to see its logs and outputs.";
export const OPENING = "Opening the step view…";
export const NO_RUN_YET = "This step has no run yet: its logs appear here once it is queued.";

export function createDetail({ host, onClose = () => {} } = {}) {
  const canRender = Boolean(host && typeof host.getWidget === "function");
  const icon = h("span", { class: "prw-detail-icon", "aria-hidden": "true" });
  const status = h("span", { class: "prw-detail-status" });
  const name = h("span", { class: "srw-name prw-detail-name", "data-testid": "prw-detail-name" });
  const duration = h("span", { class: "srw-elapsed prw-detail-duration" });
  const reuse = h("span", { class: "srw-reuse", hidden: true });
  const runId = h("span", { class: "srw-run-id" });
  const close = h("button", {
    type: "button",
    class: "srw-button prw-detail-close",
    "data-testid": "prw-detail-close",
    title: "Close the step view",
    "aria-label": "Close the step view",
    text: "×",
    "data-lm-suppress-shortcuts": "true",
    onclick: () => onClose(),
  });
  const badge = h("span", { class: "prw-detail-badge" }, icon, status);
  const head = h(
    "div",
    { class: "prw-detail-head", hidden: true },
    badge,
    name,
    duration,
    reuse,
    runId,
    close,
  );
  const error = h("div", { class: "srw-error prw-detail-error", hidden: true });
  const body = h("div", { class: "prw-detail-body" });
  const el = h(
    "section",
    { class: "prw-detail", "data-testid": "prw-detail", "aria-label": "Selected step" },
    head,
    error,
    body,
  );

  let controller = null;
  let shownRef = null;
  let renders = 0;
  let lastView = null;
  // While the step's own view is shown it has the badge, the clock, the run id and the error:
  // the head then keeps only the name and the close button, so nothing is said twice and one
  // clock ticks (the child's, from the step run's own times).
  let childShown = false;

  function setChildShown(on) {
    childShown = on;
    el.toggleAttribute("data-child", on);
    paintHead();
  }

  function paintHead() {
    const view = lastView;
    head.hidden = !view;
    error.hidden = !view?.error || childShown;
    if (!view) return;
    badge.hidden = childShown;
    duration.hidden = childShown;
    runId.hidden = childShown;
    icon.textContent = view.icon;
    status.textContent = view.label;
    head.className = `prw-detail-head prw-tone-${view.tone}`;
    head.setAttribute("data-status", view.status);
    name.textContent = view.name;
    duration.textContent = view.duration;
    reuse.hidden = !view.reused || childShown;
    reuse.textContent = view.reused ? `♻ Reused${view.reusedFrom ? ` results of run ${view.reusedFrom}` : ""}` : "";
    runId.textContent = view.runId ? `run ${view.runId}` : "";
    error.textContent = view.error;
  }

  const message = (text, cls = "") => {
    if (childShown) setChildShown(false);
    body.replaceChildren(h("div", { class: `prw-detail-message ${cls}`, text }));
  };

  function abortChild() {
    if (controller) controller.abort();
    controller = null;
    shownRef = null;
  }

  // Shows the child widget `ref` ("anywidget:<model id>") in the body; the same ref again is a no-op.
  async function showRef(ref) {
    if (!canRender) {
      abortChild();
      message(NO_HOST_HINT, "prw-detail-hint");
      return;
    }
    if (ref === shownRef && controller) return;
    abortChild();
    const ctl = new AbortController();
    controller = ctl;
    shownRef = ref;
    renders += 1;
    message(OPENING);
    try {
      const child = await host.getWidget(ref);
      if (ctl.signal.aborted) return;
      const target = h("div", { class: "prw-child" });
      body.replaceChildren(target);
      setChildShown(true);
      await child.render({ el: target, signal: ctl.signal });
    } catch (err) {
      if (ctl.signal.aborted) return;
      message(`Could not show the step view: ${err?.message ?? err}`, "prw-detail-failed");
    }
  }

  return {
    el,
    get ref() {
      return shownRef;
    },
    get renders() {
      return renders;
    },
    get canRender() {
      return canRender;
    },
    // Header of the selected step; `view` from pipeline_steps.nodeView, or null for none.
    setHead(view) {
      lastView = view ?? null;
      paintHead();
    },
    get childShown() {
      return childShown;
    },
    // What the body shows: nothing selected, a child view, or why there is none yet.
    showNothing() {
      abortChild();
      message(NOTHING_SELECTED);
    },
    showRef,
    showWaiting(hasRun) {
      abortChild();
      if (!canRender) message(NO_HOST_HINT, "prw-detail-hint");
      else message(hasRun ? OPENING : NO_RUN_YET);
    },
    dispose() {
      abortChild();
    },
  };
}
