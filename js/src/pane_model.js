// The selected step's model inside a PipelineRunWidget: what the step view (step_widget.js)
// needs of an anywidget model -- get / on / off / send -- served by the pipeline's own model
// (docs/widget-protocol.md, "The step pane"). `get(name)` reads the `pane` trait, or `pane_logs`
// for `logs` and `metrics`; `change:<name>` fires when that key's value changed in an update of
// either; `msg:custom` carries the pipeline's messages marked `pane: nodeId` (the mark removed);
// `send(msg)` marks it so the kernel routes it to this step. A click on a step thus opens no new
// widget model: marimo cannot open one outside a cell run, and a saved notebook keeps none.

const LOG_KEYS = new Set(["logs", "metrics"]);

const same = (a, b) => a === b || JSON.stringify(a) === JSON.stringify(b);

export function createPaneModel(model, nodeId) {
  const handlers = new Map();
  const read = (trait) => {
    const v = model.get(trait);
    return v && typeof v === "object" && v.node_id === nodeId ? v : {};
  };
  let pane = read("pane");
  let logs = read("pane_logs");

  const fire = (event, ...args) => {
    for (const fn of [...(handlers.get(event) ?? [])]) fn(...args);
  };

  const changed = (before, after, keys) => {
    for (const key of keys) if (!same(before[key], after[key])) fire(`change:${key}`, after[key]);
  };

  const onPane = () => {
    const next = read("pane");
    if (next === pane) return;
    const before = pane;
    pane = next;
    changed(before, next, new Set([...Object.keys(before), ...Object.keys(next)].filter((k) => !LOG_KEYS.has(k))));
  };
  const onLogs = () => {
    const next = read("pane_logs");
    if (next === logs) return;
    const before = logs;
    logs = next;
    changed(before, next, LOG_KEYS);
  };
  const onMessage = (msg, buffers) => {
    if (!msg || typeof msg !== "object" || msg.pane !== nodeId) return;
    const { pane: _mark, ...inner } = msg;
    fire("msg:custom", inner, buffers);
  };
  model.on("change:pane", onPane);
  model.on("change:pane_logs", onLogs);
  model.on("msg:custom", onMessage);

  return {
    nodeId,
    get(name) {
      return LOG_KEYS.has(name) ? logs[name] : pane[name];
    },
    on(event, fn) {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event).add(fn);
    },
    off(event, fn) {
      handlers.get(event)?.delete(fn);
    },
    send(msg, callbacks, buffers) {
      model.send({ ...msg, pane: nodeId }, callbacks, buffers);
    },
    dispose() {
      model.off("change:pane", onPane);
      model.off("change:pane_logs", onLogs);
      model.off("msg:custom", onMessage);
      handlers.clear();
    },
  };
}
