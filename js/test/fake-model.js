import { lineText } from "../src/ansi.js";

// A small stand-in for anywidget's model: traits, change events, custom messages.
export class FakeModel {
  constructor(state = {}, defaults = DEFAULT_STATE) {
    this.state = { ...defaults, ...state };
    this.handlers = new Map();
    this.sent = [];
    this.saved = 0;
  }

  get(name) {
    return this.state[name];
  }

  set(name, value) {
    this.state[name] = value;
    this._fire(`change:${name}`, value);
  }

  // Several traits in one update, as a kernel message delivers them: every value is in place
  // before the first change event fires (in the order given).
  setMany(values) {
    Object.assign(this.state, values);
    for (const [name, value] of Object.entries(values)) this._fire(`change:${name}`, value);
  }

  save_changes() {
    this.saved += 1;
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(fn);
  }

  off(event, fn) {
    this.handlers.get(event)?.delete(fn);
  }

  send(msg) {
    this.sent.push(msg);
  }

  // What the kernel does with `widget.send(content, buffers)`.
  emit(msg, buffers = []) {
    this._fire("msg:custom", msg, buffers);
  }

  listenerCount() {
    let n = 0;
    for (const set of this.handlers.values()) n += set.size;
    return n;
  }

  _fire(event, ...args) {
    for (const fn of this.handlers.get(event) ?? []) fn(...args);
  }
}

export const DEFAULT_STATE = {
  run_id: "run-1",
  name: "train",
  status: "Running",
  start_time: null,
  end_time: null,
  error: "",
  connection: "ok",
  connection_detail: "",
  reuse: {},
  outputs: [],
  logs: {},
  tail_lines: 2000,
};

export const PIPELINE_STATE = {
  run_id: "prun-1",
  name: "sample-pipeline",
  status: "Running",
  start_time: null,
  end_time: null,
  error: "",
  connection: "ok",
  connection_detail: "",
  graph: { nodes: [], edges: [] },
  steps: [],
  selected: "",
  pane: {},
  pane_logs: {},
};

export const pipelineModel = (state = {}) => new FakeModel(state, PIPELINE_STATE);

// A graph of `n` steps s0..s(n-1): a fan-out tree (each node feeds up to three) plus some
// cross edges, so layers have several nodes and edges cross ranks.
export function makeGraph(n, { name = (i) => `step-${i}` } = {}) {
  const nodes = [];
  const edges = [];
  for (let i = 0; i < n; i++) {
    nodes.push({ id: `s${i}`, name: name(i) });
    if (i > 0) edges.push([`s${Math.floor((i - 1) / 3)}`, `s${i}`]);
    if (i > 6 && i % 4 === 0) edges.push([`s${i - 5}`, `s${i}`]);
  }
  return { nodes, edges };
}

// One `steps` entry per node, fields as in the protocol; `over` replaces fields per node id.
export function makeSteps(graph, over = {}) {
  return graph.nodes.map((node) => ({
    node_id: node.id,
    run_id: `run-${node.id}`,
    name: node.name,
    status: "NotStarted",
    queued_time: null,
    start_time: null,
    end_time: null,
    reused: false,
    reused_run_id: "",
    error: "",
    ...(over[node.id] ?? {}),
  }));
}

// Lets pending promise callbacks (getWidget, render) run.
export const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

export const byTestId = (root, id) => root.querySelector(`[data-testid="${CSS.escape(id)}"]`);

export const visibleLines = (root) =>
  [...byTestId(root, "srw-log").querySelectorAll(".srw-line")].map((el) => el.textContent);

export const scrollTo = (el, top) => {
  el.scrollTop = top;
  el.dispatchEvent(new Event("scroll"));
};

// Every line a LogBuffer holds, the unfinished last one included.
export const allLines = (buf) => {
  const out = [];
  for (let i = buf.firstLine; i < buf.endLine; i++) out.push(lineText(buf.line(i)));
  const partial = buf.partial();
  if (partial !== null) out.push(lineText(partial));
  return out;
};

// The kernel side of the log protocol, as steprun_widgets/widgets/logtail.py numbers it: each
// `log` and `log_reset` takes the stream's next seq; the `logs` trait is refreshed only when
// asked (the real kernel: every ~10 s); `sync` is answered with one `log_snapshot` per stream.
export class FakeLogKernel {
  constructor(model, streams = ["stdout", "stderr", "job"]) {
    this.model = model;
    this.streams = streams;
    this.text = Object.fromEntries(streams.map((s) => [s, ""]));
    this.seq = Object.fromEntries(streams.map((s) => [s, 0]));
    this.history = Object.fromEntries(streams.map((s) => [s, [""]])); // [seq]: the text after it
    this.answered = 0; // model.sent entries already looked at
  }

  // `deliver: false` returns the message instead, to emit it later (it is already in the text).
  write(stream, text, { deliver = true } = {}) {
    this.text[stream] += text;
    this.seq[stream] += 1;
    this.history[stream].push(this.text[stream]);
    const msg = { type: "log", stream, text, seq: this.seq[stream] };
    if (deliver) this.model.emit(msg);
    return msg;
  }

  reset(stream) {
    this.text[stream] = "";
    this.seq[stream] += 1;
    this.history[stream].push("");
    this.model.emit({ type: "log_reset", stream, seq: this.seq[stream] });
  }

  state(stream) {
    const text = this.text[stream];
    return { tail: text, first_line: 0, total_bytes: text.length, seq: this.seq[stream] };
  }

  // The lines of a stream as they were after message `seq` (the unfinished last one included).
  linesAt(stream, seq = this.seq[stream]) {
    const text = this.history[stream][seq];
    return text ? text.replace(/\n$/, "").split("\n") : [];
  }

  refreshTrait() {
    this.model.set("logs", Object.fromEntries(this.streams.map((s) => [s, this.state(s)])));
  }

  // Answers the `sync` messages views sent since the last call; returns how many.
  answerSyncs() {
    let n = 0;
    while (this.answered < this.model.sent.length) {
      const msg = this.model.sent[this.answered++];
      if (msg?.type !== "sync") continue;
      n += 1;
      for (const s of this.streams) {
        const { tail, first_line, seq } = this.state(s);
        this.model.emit({ type: "log_snapshot", stream: s, tail, first_line, seq });
      }
    }
    return n;
  }
}
