// A stand-in for anywidget's model on pages without a kernel (js/bench/*.html): traits, change
// events, custom messages. `emit(msg)` is what the kernel's widget.send(msg) does; `sent` holds
// what the view sent.
export function standInModel(state) {
  const handlers = new Map();
  const fire = (event, ...args) => {
    for (const fn of handlers.get(event) ?? []) fn(...args);
  };
  return {
    state,
    sent: [],
    get: (k) => state[k],
    set(k, v) {
      state[k] = v;
      fire(`change:${k}`, v);
    },
    save_changes() {},
    send(msg) {
      this.sent.push(msg);
    },
    on(e, fn) {
      if (!handlers.has(e)) handlers.set(e, new Set());
      handlers.get(e).add(fn);
    },
    off: (e, fn) => handlers.get(e)?.delete(fn),
    emit: (msg) => fire("msg:custom", msg, []),
  };
}

export const STEP_STATE = {
  run_id: "run-1", name: "train", status: "Running", start_time: Date.now(), end_time: null, error: "",
  connection: "ok", connection_detail: "", reuse: {}, outputs: [], tail_lines: 2000, logs: {},
  metrics: {}, params: {}, images: [],
};
