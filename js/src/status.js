import { h } from "./dom.js";

// Status word (protocol) -> icon and colour tone. The tone names map to CSS classes.
export const STATUSES = {
  NotStarted: { icon: "○", tone: "muted", label: "Not started" },
  Queued: { icon: "◔", tone: "brand", label: "Queued" },
  Running: { icon: "⟳", tone: "brand", label: "Running" },
  Finished: { icon: "✔", tone: "success", label: "Finished" },
  Failed: { icon: "✖", tone: "error", label: "Failed" },
  Canceled: { icon: "⊘", tone: "muted", label: "Canceled" },
  NotResponding: { icon: "⚠", tone: "warn", label: "Not responding" },
};

export const TERMINAL_STATUSES = new Set(["Finished", "Failed", "Canceled"]);

export function statusInfo(status) {
  const word = typeof status === "string" ? status : "";
  return STATUSES[word] ?? { icon: "?", tone: "muted", label: word || "Unknown" };
}

// Badge: icon + status word. The word element carries role=status so a change is announced.
// `testId` names the word element for browser tests (each widget has its own prefix).
export function createStatusBadge({ testId = "srw-status" } = {}) {
  const icon = h("span", { class: "srw-status-icon", "aria-hidden": "true" });
  const word = h("span", {
    class: "srw-status-word",
    "data-testid": testId,
    role: "status",
    "aria-live": "polite",
  });
  const el = h("span", { class: "srw-badge" }, icon, word);
  return {
    el,
    update(status) {
      const info = statusInfo(status);
      const text = typeof status === "string" && status ? status : "Unknown";
      icon.textContent = info.icon;
      if (word.textContent !== text) word.textContent = text;
      word.setAttribute("aria-label", `Status: ${info.label}`);
      el.className = `srw-badge srw-tone-${info.tone}`;
      el.dataset.status = text;
    },
  };
}

const pad2 = (n) => String(n).padStart(2, "0");

// 0 -> "0s", 65_000 -> "1m 05s", 3_723_000 -> "1h 02m 03s", 90_000_000 -> "1d 01h 00m".
export function formatElapsed(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  const total = Math.max(0, Math.floor(ms / 1000));
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const hrs = Math.floor(total / 3600) % 24;
  const d = Math.floor(total / 86400);
  if (d > 0) return `${d}d ${pad2(hrs)}h ${pad2(m)}m`;
  if (hrs > 0) return `${hrs}h ${pad2(m)}m ${pad2(s)}s`;
  if (m > 0) return `${m}m ${pad2(s)}s`;
  return `${s}s`;
}

const isTime = (v) => typeof v === "number" && Number.isFinite(v);

export function elapsedMs(startTime, endTime, now = Date.now()) {
  if (!isTime(startTime)) return null;
  return (isTime(endTime) ? endTime : now) - startTime;
}

// Elapsed time that ticks every second while the run has a start and no end.
export function createElapsed({ now = () => Date.now(), testId = "srw-elapsed" } = {}) {
  const el = h("span", {
    class: "srw-elapsed",
    "data-testid": testId,
    title: "Elapsed time",
    hidden: true,
  });
  let start = null;
  let end = null;
  let timer = null;
  const paint = () => {
    const ms = elapsedMs(start, end, now());
    el.hidden = ms == null;
    el.textContent = ms == null ? "" : formatElapsed(ms);
  };
  const stop = () => {
    if (timer != null) clearInterval(timer);
    timer = null;
  };
  return {
    el,
    update(startTime, endTime) {
      start = isTime(startTime) ? startTime : null;
      end = isTime(endTime) ? endTime : null;
      paint();
      if (start != null && end == null) {
        if (timer == null) timer = setInterval(paint, 1000);
      } else {
        stop();
      }
    },
    get ticking() {
      return timer != null;
    },
    dispose: stop,
  };
}
