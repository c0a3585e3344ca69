import { h } from "./dom.js";

// A failed step opens on the log that explains the failure: stderr when it has text (the
// traceback lands there), else job (the runner's own lines: exit code, why it could not start).
// That tab is marked, and the error line under the header leads to it.

// The stream that explains a failure, or null when the run did not fail.
export function failureStream(status, lineCounts = {}) {
  if (status !== "Failed") return null;
  return (lineCounts.stderr ?? 0) > 0 ? "stderr" : "job";
}

const LINK_TEXT = { stderr: "Show the traceback in stderr", job: "Show the job log" };

// `tabs` from tabs.js; `counts()` -> { stream: shown lines }; `onShow(stream)` after the link
// selects a tab (the widget focuses the log). The automatic choice follows the logs as they
// arrive (stderr may fill after the job log) until the user picks a tab: then it stays theirs.
export function createFailureGuide({ tabs, counts, onShow = () => {}, testId = "srw-error" }) {
  const text = h("span", { class: "srw-error-text" });
  const link = h("button", {
    type: "button",
    class: "srw-error-link",
    "data-testid": `${testId}-link`,
    hidden: true,
    onclick: () => {
      if (!shown) return;
      userChose = true;
      tabs.select(shown);
      onShow(shown);
    },
  });
  const el = h("div", { class: "srw-error", "data-testid": testId, role: "alert", hidden: true }, text, link);

  let started = false;
  let userChose = false;
  let auto = false; // true while this guide selects a tab itself
  let shown = null; // the stream marked now
  let status = "";
  let message = "";

  function autoSelect(stream) {
    auto = true;
    try {
      tabs.select(stream);
    } finally {
      auto = false;
    }
  }

  function paint() {
    const stream = failureStream(status, counts());
    if (stream !== shown) {
      if (shown) tabs.mark(shown, "");
      if (stream) tabs.mark(stream, "explains the failure");
      shown = stream;
    }
    if (started && stream && !userChose && tabs.selected !== stream) autoSelect(stream);
    el.hidden = !message;
    text.textContent = message;
    link.hidden = !message || !stream;
    link.textContent = stream ? LINK_TEXT[stream] : "";
  }

  return {
    el,
    // Call from the tabs' onSelect: a selection this guide did not make is the user's.
    selected() {
      if (!auto) userChose = true;
    },
    update({ status: s, error } = {}) {
      if (s !== undefined) status = typeof s === "string" ? s : "";
      if (error !== undefined) message = error ? String(error) : "";
      paint();
    },
    // The first tab shown: the one that explains a failure, else `fallback`.
    start(fallback) {
      started = true;
      autoSelect(failureStream(status, counts()) ?? fallback);
      paint();
    },
    // Line counts changed.
    refresh: paint,
    get stream() {
      return shown;
    },
  };
}
