// @ts-check
// Says at once when a click waits for a running cell. Where the kernel handles this widget's
// messages on a thread of its own (ipykernel 7 subshells; steprun_widgets/widgets/comm_route.py)
// a click is answered while a cell runs, and the kernel says so in `sync_done`
// (`serves_while_busy`). Elsewhere (ipykernel 6, other kernels) a request waits behind a running
// cell: a second without an answer shows this note until an answer arrives.

import { h } from "./dom.js";

export const BUSY_NOTE =
  "Waiting for the kernel: if a cell is running, this starts when that cell ends (this kernel answers clicks only between cells).";

/** Browser → kernel messages that a user's click sends and that the kernel answers. */
export const REQUESTS = new Set(["download", "download_log", "save_local", "list_outputs", "cancel", "older_lines"]);

/** Kernel → browser messages that the poller thread sends (not answers to a click). */
const STREAMED = new Set(["log", "log_snapshot", "log_reset", "metric", "metric_snapshot"]);

/**
 * @typedef {object} BusyNote
 * @property {HTMLElement} el the note (hidden while nothing waits)
 * @property {(msg?: {type?: string}) => void} sent a request went to the kernel
 * @property {(msg?: {type?: string, serves_while_busy?: boolean}) => void} received a message
 *   came from the kernel (an answer unless the poller streamed it)
 * @property {() => void} answered the kernel answered in another way (a trait it set)
 * @property {() => void} dispose
 */

/**
 * @param {{prefix?: string, delayMs?: number}} [options]
 * @returns {BusyNote}
 */
export function createBusyNote({ prefix = "srw", delayMs = 1000 } = {}) {
  const el = h("div", {
    class: "srw-busy-note",
    role: "status",
    "data-testid": `${prefix}-busy-note`,
    hidden: true,
    text: BUSY_NOTE,
  });
  let waiting = 0;
  let servesWhileBusy = false;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;

  const clear = () => {
    waiting = 0;
    if (timer != null) clearTimeout(timer);
    timer = null;
    el.hidden = true;
  };

  return {
    el,
    sent(msg) {
      if (msg && typeof msg.type === "string" && !REQUESTS.has(msg.type)) return;
      waiting += 1;
      if (servesWhileBusy || timer != null) return;
      timer = setTimeout(() => {
        timer = null;
        if (waiting > 0 && !servesWhileBusy) el.hidden = false;
      }, delayMs);
    },
    received(msg) {
      if (!msg || typeof msg.type !== "string" || STREAMED.has(msg.type)) return;
      if (msg.type === "sync_done") servesWhileBusy = msg.serves_while_busy === true;
      clear();
    },
    answered: clear,
    dispose: clear,
  };
}
