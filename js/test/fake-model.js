// A small stand-in for anywidget's model: traits, change events, custom messages.
export class FakeModel {
  constructor(state = {}) {
    this.state = { ...DEFAULT_STATE, ...state };
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

export const byTestId = (root, id) => root.querySelector(`[data-testid="${CSS.escape(id)}"]`);

export const visibleLines = (root) =>
  [...byTestId(root, "srw-log").querySelectorAll(".srw-line")].map((el) => el.textContent);

export const scrollTo = (el, top) => {
  el.scrollTop = top;
  el.dispatchEvent(new Event("scroll"));
};
