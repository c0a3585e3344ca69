import { h } from "./dom.js";
import { TERMINAL_STATUSES, statusInfo } from "./status.js";

// The Cancel button of a run that goes on, with an inline confirmation (window.confirm may be
// blocked by the host): "Cancel run <name>? [Cancel run] [Keep running]". Confirmed, it sends
// `{type: "cancel", request_id}`; the kernel calls the run's cancel() and answers
// `cancel_started`, then `cancel_done` (with the status then) or `cancel_error` (why not, text).
// The button shows only while the run has not ended and only once the view is live (`setLive`,
// after the kernel answered the view's `sync`; off again when the loader finds the kernel gone):
// a saved notebook without a kernel, or the static snapshot, offers no control that cannot act.
// `prefix` names the test ids.

export const CANCEL_REQUESTED = "Cancel requested…";
export const NO_ANSWER = "The cancel request got no answer from the kernel. Try again, or run the cell again.";
// cancel() waits up to 8 s for the runner (core/cancel.py RUNNER_ACK_TIMEOUT), then may end every
// step itself over REST: well within this.
export const ANSWER_TIMEOUT_MS = 60_000;

let instances = 0;

export function createCancelControl({ send, prefix = "srw", kind = "run" }) {
  instances += 1;
  const questionId = `${prefix}-cancel-${instances}-${Math.random().toString(36).slice(2, 8)}-question`;
  let status = "";
  let name = "";
  let live = false;
  let confirming = false;
  let pending = null; // request id in flight
  let timer = null; // gives up on `pending`
  let counter = 0;

  const button = h("button", {
    type: "button",
    class: "srw-button srw-run-cancel",
    "data-testid": `${prefix}-run-cancel`,
    title: `Cancel this ${kind}`,
    text: "Cancel",
    hidden: true,
    "data-lm-suppress-shortcuts": "true",
    onclick: () => openConfirm(),
  });
  const question = h("span", {
    class: "srw-run-cancel-question",
    id: questionId,
    "data-testid": `${prefix}-run-cancel-question`,
  });
  const yes = h("button", {
    type: "button",
    class: "srw-button srw-run-cancel-yes",
    "data-testid": `${prefix}-run-cancel-confirm`,
    text: "Cancel run",
    "data-lm-suppress-shortcuts": "true",
    onclick: () => confirm(),
  });
  const no = h("button", {
    type: "button",
    class: "srw-button srw-run-cancel-no",
    "data-testid": `${prefix}-run-cancel-keep`,
    text: "Keep running",
    "data-lm-suppress-shortcuts": "true",
    onclick: () => closeConfirm(true),
  });
  const confirmBox = h(
    "div",
    {
      class: "srw-run-cancel-confirm",
      role: "group",
      "aria-labelledby": questionId,
      hidden: true,
      "data-testid": `${prefix}-run-cancel-box`,
    },
    question,
    yes,
    no,
  );
  confirmBox.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeConfirm(true);
    }
  });
  const note = h("div", { class: "srw-run-cancel-note", "data-testid": `${prefix}-run-cancel-note`, role: "status", hidden: true });
  const panel = h("div", { class: "srw-run-cancel-panel" }, confirmBox, note);

  const ended = () => TERMINAL_STATUSES.has(status);

  function setNote(text, failed = false) {
    note.hidden = !text;
    note.textContent = text;
    note.classList.toggle("srw-run-cancel-failed", failed);
    note.setAttribute("role", failed ? "alert" : "status");
  }

  function paint() {
    const offer = live && !ended() && Boolean(status);
    button.hidden = !offer || confirming;
    button.disabled = pending != null;
    if (!offer && confirming) closeConfirm(false);
    question.textContent = `Cancel run ${name || "(unnamed)"}?`;
    // with the step pane open two Cancel buttons show: each says which run it cancels
    button.setAttribute("aria-label", `Cancel ${kind} ${name || "(unnamed)"}`);
  }

  function openConfirm() {
    if (pending != null || ended()) return;
    confirming = true;
    confirmBox.hidden = false;
    paint();
    no.focus();
  }

  function closeConfirm(refocus) {
    confirming = false;
    confirmBox.hidden = true;
    paint();
    if (refocus && !button.hidden) button.focus();
  }

  function confirm() {
    counter += 1;
    pending = `cancel-${counter}-${Math.random().toString(36).slice(2, 8)}`;
    send({ type: "cancel", request_id: pending });
    timer = setTimeout(giveUp, ANSWER_TIMEOUT_MS);
    closeConfirm(false);
    setNote(CANCEL_REQUESTED);
    paint();
  }

  function settled() {
    clearTimeout(timer);
    timer = null;
    pending = null;
  }

  // No answer came, or none can come (the kernel went away): the button is offered again.
  function giveUp() {
    if (pending == null) return;
    settled();
    setNote(NO_ANSWER, true);
    paint();
  }

  return {
    button,
    panel,
    get confirming() {
      return confirming;
    },
    // The run's status word and name (traits); the button goes once the run has ended.
    update({ status: s, name: n }) {
      status = typeof s === "string" ? s : "";
      name = typeof n === "string" ? n : "";
      if (ended() && pending == null && !note.classList.contains("srw-run-cancel-failed")) setNote("");
      paint();
    },
    setLive(on) {
      live = Boolean(on);
      if (!live) giveUp();
      paint();
    },
    // A kernel message; true when it was one of ours. The kernel's answers reach every view of
    // the model: one to a request of another view (or one this view gave up on) is dropped, and
    // the run's status trait shows how it ended.
    handle(msg) {
      if (!msg || typeof msg.type !== "string" || !msg.type.startsWith("cancel_")) return false;
      if (pending == null || msg.request_id !== pending) return true;
      if (msg.type === "cancel_started") {
        setNote(CANCEL_REQUESTED);
      } else if (msg.type === "cancel_done") {
        settled();
        const word = typeof msg.status === "string" ? msg.status : "";
        setNote(word === "Canceled" ? "Canceled at your request" : `Cancel requested; the run is ${statusInfo(word).label}`);
      } else if (msg.type === "cancel_error") {
        settled();
        setNote(typeof msg.message === "string" && msg.message ? msg.message : "Cancel failed", true);
      }
      paint();
      return true;
    },
  };
}
