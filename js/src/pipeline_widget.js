// @ts-check
import { createBusyNote } from "./busy_note.js";
import { h } from "./dom.js";
import { createRunHeader } from "./header.js";
import { GraphView } from "./dag.js";
import { createTimeline } from "./timeline.js";
import { createDetail } from "./detail.js";
import { createMetricsTable } from "./metrics_table.js";
import { MAX_LAYER, groupGraph, groupView } from "./graph_groups.js";
import { nodeTitle } from "./step_times.js";
import { createCancelControl } from "./cancel.js";
import { createPaneModel } from "./pane_model.js";
import { renderStepWidget } from "./step_widget.js";
import {
  normalizeGraph,
  nodeView,
  stepRows,
  stepsByNode,
  stepIsLive,
  summarize,
  summaryText,
} from "./pipeline_steps.js";

export { GraphView, layoutGraph, edgePath, shortName, fitScale } from "./dag.js";
export { groupGraph, matchSteps } from "./graph_groups.js";
export { createTimeline, timeRange, stepBars, axisTicks } from "./timeline.js";
export { createDetail } from "./detail.js";
export { createPaneModel } from "./pane_model.js";
export { createMetricsTable, tableRows, sortRows } from "./metrics_table.js";
export * from "./pipeline_steps.js";

// Builds a PipelineRunWidget view into `el` (docs/widget-protocol.md, "PipelineRunWidget synced
// traitlets"); returns a handle whose dispose() is the cleanup. The view reads traits, writes
// `selected`, and sends `sync` (the kernel's answer makes the Cancel button live) and `cancel`.
// `graph` changes relayout the DAG; `steps` changes repaint nodes, summary, timeline and detail
// header in place; a 1 s clock runs while a step is queued or running. The selected step's view
// is a step view (step_widget.js) on this same model (pane_model.js): no child widget model.
// `maxLayer` is graph_groups.MAX_LAYER (Infinity draws every node: the benchmark's naive way).
export function renderPipelineWidget({ model, el, now = () => Date.now(), maxLayer = MAX_LAYER }) {
  const cleanups = [];
  const listen = (event, fn) => {
    model.on(event, fn);
    cleanups.push(() => model.off(event, fn));
  };

  // a click the kernel answers (a step view opening, Cancel) is said at once to wait for a running
  // cell where the kernel cannot serve it meanwhile (busy_note.js)
  const busy = createBusyNote({ prefix: "prw" });
  cleanups.push(() => busy.dispose());
  const cancel = createCancelControl({
    send: (msg) => {
      busy.sent(msg);
      model.send(msg);
    },
    prefix: "prw",
    kind: "pipeline run",
  });
  const header = createRunHeader({
    prefix: "prw",
    fallbackName: "(unnamed pipeline)",
    now,
    className: "prw-header",
    extra: [cancel.button],
  });
  const summary = h("span", { class: "prw-summary", "data-testid": "prw-summary" });
  const reusedCount = h("span", { class: "prw-summary-reused", hidden: true });
  const error = h("div", { class: "srw-error", "data-testid": "prw-error", role: "alert", hidden: true });

  const select = (id) => {
    if (id && id !== model.get("selected") && stepMap.get(id)?.run_id) busy.sent(); // answered by `pane`
    model.set("selected", id);
    model.save_changes();
  };
  const graphView = new GraphView({ onSelect: select });
  const timeline = createTimeline({ onSelect: select });
  const detail = createDetail({ onClose: () => select("") });
  const metricsTable = createMetricsTable();

  const root = h(
    "div",
    { class: "prw-root" },
    header.el,
    cancel.panel,
    h("div", { class: "prw-summary-line" }, summary, reusedCount),
    error,
    header.connection,
    busy.el,
    graphView.el,
    detail.el,
    timeline.el,
    metricsTable.el,
  );

  let graph = normalizeGraph(null);
  let shown = groupGraph(graph, { maxLayer }); // the graph as drawn: wide layers collapsed (graph_groups.js)
  let timelineRows = [];
  let stepMap = new Map();
  let rows = [];
  let views = new Map();
  let summaryKey = null;
  let clock = null;

  const selectedId = () => {
    const v = model.get("selected");
    return typeof v === "string" ? v : "";
  };

  function computeViews(t) {
    const names = new Map(rows.map((r) => [r.id, r.name]));
    views = new Map();
    for (const id of names.keys()) {
      const step = stepMap.get(id);
      const view = nodeView({ id, name: names.get(id) }, step, t);
      views.set(id, { ...view, title: nodeTitle(view, step, t) });
    }
    for (const group of shown.groups.values()) views.set(group.id, groupView(group, stepMap));
    return views;
  }

  function headFor(id, t) {
    if (!id) return null;
    return views.get(id) ?? nodeView({ id, name: id }, stepMap.get(id), t);
  }

  function paintSummary() {
    const s = summarize(rows, stepMap);
    const key = JSON.stringify([s.items, s.reused]);
    if (key === summaryKey) return;
    summaryKey = key;
    const parts = [];
    s.items.forEach((item, i) => {
      if (i) parts.push(" · ");
      parts.push(
        h("span", {
          class: `prw-count srw-tone-${item.tone}`,
          "data-status": item.status,
          text: `${item.count} ${item.label}`,
        }),
      );
    });
    summary.replaceChildren(...parts);
    summary.setAttribute("aria-label", s.items.length ? `Steps: ${summaryText(s)}` : "No steps");
    if (!s.items.length) summary.textContent = "No steps";
    reusedCount.hidden = s.reused === 0;
    reusedCount.textContent = s.reused ? `♻ ${s.reused} reused` : "";
  }

  function tick() {
    const t = now();
    computeViews(t);
    graphView.paint(views);
    timeline.tick(t);
    detail.setHead(headFor(selectedId(), t));
  }

  function runClock() {
    const live = [...stepMap.values()].some(stepIsLive);
    if (live && clock == null) clock = setInterval(tick, 1000);
    if (!live && clock != null) {
      clearInterval(clock);
      clock = null;
    }
  }

  function paintSteps() {
    const t = now();
    stepMap = stepsByNode(model.get("steps"));
    rows = stepRows(graph.nodes, stepMap);
    const drawn = new Set(graph.nodes.map((n) => n.id));
    timelineRows = [
      ...shown.nodes.map((n) => ({ id: n.id, name: n.name, group: n.group })),
      ...rows.filter((r) => !drawn.has(r.id)),
    ];
    computeViews(t);
    graphView.paint(views);
    paintSummary();
    timeline.update(timelineRows, stepMap, t, { start_time: model.get("start_time"), end_time: model.get("end_time") });
    detail.setHead(headFor(selectedId(), t));
    runClock();
  }

  function paintGraph() {
    graph = normalizeGraph(model.get("graph"));
    shown = groupGraph(graph, { maxLayer });
    graphView.setGraph(shown);
    paintSteps();
  }

  // The detail pane follows `selected` and `pane`: the kernel answers a new `selected` by
  // setting `pane` to that step's state, so the step view mounts once `pane` names the node
  // selected (a stale `pane` of the previous selection is never shown for the new one).
  let stepView = null;
  function mountStep(id, target) {
    const stepModel = createPaneModel(model, id);
    let view;
    try {
      view = renderStepWidget({ model: stepModel, el: target });
    } catch (err) {
      stepModel.dispose(); // its listeners are on the pipeline's model
      throw err;
    }
    stepView = view;
    return () => {
      if (stepView === view) stepView = null;
      view.dispose();
      stepModel.dispose();
    };
  }

  function paintPane() {
    const id = selectedId();
    if (!id) return detail.showNothing();
    const pane = model.get("pane");
    if (pane && typeof pane === "object" && pane.node_id === id) detail.showStep(id, (target) => mountStep(id, target));
    else detail.showWaiting(Boolean(stepMap.get(id)?.run_id));
  }

  function onSelected() {
    const id = selectedId();
    graphView.setSelected(id);
    if (id) graphView.revealNode(id);
    detail.setHead(headFor(id, now()));
    paintPane();
  }

  const paint = {
    error() {
      const text = model.get("error");
      error.hidden = !text;
      error.textContent = text ? String(text) : "";
    },
    graph: paintGraph,
    steps: paintSteps,
    metrics() {
      metricsTable.update(model.get("metrics_table"), new Map(graph.nodes.map((n) => [n.id, n.name])));
    },
    cancel() {
      cancel.update({ status: model.get("status"), name: model.get("name") });
    },
  };
  header.bind(model, listen);
  const traits = {
    error: ["error"],
    graph: ["graph"],
    steps: ["steps"],
    metrics: ["graph", "metrics_table"],
    cancel: ["status", "name"],
  };
  for (const [part, names] of Object.entries(traits)) {
    paint[part]();
    for (const trait of names) listen(`change:${trait}`, paint[part]);
  }
  listen("change:selected", onSelected);
  listen("change:pane", () => {
    busy.answered();
    paintPane();
  });
  listen("msg:custom", (msg) => {
    if (!msg || typeof msg !== "object" || "pane" in msg) return; // the step view's own
    busy.received(msg);
    if (msg.type === "sync_done") cancel.setLive(true);
    else cancel.handle(msg);
  });

  // the loader found the kernel gone: the pane's step view, on this model, goes with it
  const notLive = () => {
    cancel.setLive(false);
    stepView?.cancel.setLive(false);
  };
  el.addEventListener("srw-not-live", notLive);
  cleanups.push(() => el.removeEventListener("srw-not-live", notLive));

  el.append(root);
  graphView.mounted();
  graphView.setSelected(selectedId());
  if (selectedId()) graphView.revealNode(selectedId());
  detail.setHead(headFor(selectedId(), now()));
  paintPane();
  model.send({ type: "sync" });

  let disposed = false;
  return {
    root,
    graphView,
    timeline,
    detail,
    cancel,
    // the selected step's view (step_widget.js handle) while it is shown
    get stepView() {
      return stepView;
    },
    tick,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const fn of cleanups) fn();
      if (clock != null) clearInterval(clock);
      clock = null;
      header.dispose();
      detail.dispose();
      graphView.dispose();
      root.remove();
    },
  };
}

export default {
  render({ model, el }) {
    return renderPipelineWidget({ model, el }).dispose;
  },
};
