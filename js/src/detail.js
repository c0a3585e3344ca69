import { h } from "./dom.js";

// The pane below the graph: a header for the selected step (from the `steps` trait) and, under
// it, that step's own view (step_widget.js), which pipeline_widget.js mounts on the pipeline's
// own model (pane_model.js) once the kernel has the step's state: `showStep(nodeId, mount)`,
// where `mount(el)` renders into `el` and returns the view's cleanup.

export const NOTHING_SELECTED = "Select a step in the graph to see its logs and outputs.";
export const OPENING = "Opening the step view…";
export const NO_RUN_YET = "This step has no run yet: its logs appear here once it is queued.";

export function createDetail({ onClose = () => {} } = {}) {
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
  // Why the step ran or was reused: the pipeline's knowledge (its reuse records), not the step
  // view's, so it stays while the step's own view is shown.
  const why = h("div", { class: "prw-detail-why", "data-testid": "prw-detail-why", hidden: true });
  const body = h("div", { class: "prw-detail-body" });
  const el = h(
    "section",
    { class: "prw-detail", "data-testid": "prw-detail", "aria-label": "Selected step" },
    head,
    why,
    error,
    body,
  );

  let shown = null; // { nodeId, dispose } of the mounted step view
  let failed = null; // the node whose view could not be shown: not tried again at every update
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
    why.hidden = !view?.why;
    why.textContent = view?.why ? `Why: ${view.why}` : "";
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

  function unmount() {
    if (shown) shown.dispose?.();
    shown = null;
    failed = null;
  }

  // Mounts the step view of `nodeId` in the body; the same node again is a no-op, and so is one
  // whose view failed until something else is shown.
  function showStep(nodeId, mount) {
    if ((shown && shown.nodeId === nodeId) || failed === nodeId) return;
    unmount();
    renders += 1;
    const target = h("div", { class: "prw-child" });
    body.replaceChildren(target);
    setChildShown(true);
    try {
      shown = { nodeId, dispose: mount(target) };
    } catch (err) {
      failed = nodeId;
      message(`Could not show the step view: ${err?.message ?? err}`, "prw-detail-failed");
    }
  }

  return {
    el,
    get shownNode() {
      return shown ? shown.nodeId : null;
    },
    get renders() {
      return renders;
    },
    // Header of the selected step; `view` from pipeline_steps.nodeView, or null for none.
    setHead(view) {
      lastView = view ?? null;
      paintHead();
    },
    get childShown() {
      return childShown;
    },
    // What the body shows: nothing selected, the step's view, or why there is none yet.
    showNothing() {
      unmount();
      message(NOTHING_SELECTED);
    },
    showStep,
    showWaiting(hasRun) {
      unmount();
      message(hasRun ? OPENING : NO_RUN_YET);
    },
    dispose() {
      unmount();
    },
  };
}
