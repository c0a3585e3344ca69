import { h } from "./dom.js";
import { formatElapsed, statusInfo } from "./status.js";
import { isTime, stepStatus, stepIsLive } from "./pipeline_steps.js";

// Gantt-like timeline: one row per step on a shared time axis, a light bar from queued to start
// and a bar in the status colour from start to end. Open bars end at `now`, so the axis and
// every bar are recomputed each second while something runs (50 rows: a few style writes).

const TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map(
  (s) => s * 1000,
);
const MAX_TICKS = 6;

// The axis: from the earliest queued/start time to the latest end (or now while something runs).
export function timeRange(steps, now, pipeline = {}) {
  let t0 = Infinity;
  let t1 = -Infinity;
  let open = false;
  const see = (t) => {
    if (!isTime(t)) return;
    t0 = Math.min(t0, t);
    t1 = Math.max(t1, t);
  };
  for (const step of steps) {
    if (!step) continue;
    see(step.queued_time);
    see(step.start_time);
    see(step.end_time);
    if (stepIsLive(step)) open = true;
  }
  if (!Number.isFinite(t0)) return null;
  see(pipeline.start_time);
  see(pipeline.end_time);
  if (open) t1 = Math.max(t1, now);
  if (t1 - t0 < 1000) t1 = t0 + 1000;
  return { t0, t1, open };
}

// Offsets (ms from t0) of the axis labels: a "nice" step giving at most MAX_TICKS labels.
export function axisTicks(span) {
  const step = TICK_STEPS.find((s) => span / s <= MAX_TICKS) ?? Math.ceil(span / MAX_TICKS / 86400000) * 86400000;
  const ticks = [];
  for (let t = 0; t <= span; t += step) ticks.push(t);
  return ticks;
}

// The two bars of a step as [start, end] ms, or null where there is none.
export function stepBars(step, now) {
  if (!step) return { queued: null, run: null };
  const live = stepIsLive(step);
  const q = isTime(step.queued_time) ? step.queued_time : null;
  const s = isTime(step.start_time) ? step.start_time : null;
  const e = isTime(step.end_time) ? step.end_time : null;
  let queued = null;
  if (q != null) {
    const qEnd = s ?? e ?? (live ? now : null);
    if (qEnd != null && qEnd >= q) queued = [q, qEnd];
  }
  let run = null;
  if (s != null) {
    const rEnd = e ?? (live ? now : s);
    run = [s, Math.max(s, rEnd)];
  }
  return { queued, run };
}

const pct = (v) => `${(Math.round(v * 1000) / 10).toFixed(1)}%`;

export function createTimeline({ onSelect = () => {} } = {}) {
  const axis = h("div", { class: "prw-tl-axis", "aria-hidden": "true" });
  const rowsEl = h("div", { class: "prw-tl-rows" });
  const empty = h("div", { class: "prw-tl-empty", text: "No step has been queued yet." });
  const el = h(
    "section",
    { class: "prw-timeline", "data-testid": "prw-timeline", "aria-label": "Timeline" },
    h("div", { class: "prw-tl-head" }, h("span", { class: "prw-tl-title", text: "Timeline" }), axis),
    empty,
    rowsEl,
  );
  rowsEl.addEventListener("click", (event) => {
    const row = event.target?.closest?.(".prw-tl-row");
    if (row) onSelect(row.getAttribute("data-node-id"));
  });

  let rows = new Map(); // id -> { el, label, queued, run, painted }
  let rowKey = null;
  let ticksKey = null;
  let last = { rows: [], stepMap: new Map(), pipeline: {} };

  function buildRows(list) {
    const key = JSON.stringify(list.map((r) => [r.id, r.name]));
    if (key === rowKey) return;
    rowKey = key;
    rows = new Map();
    const els = list.map(({ id, name }) => {
      const queued = h("div", { class: "prw-tl-bar prw-tl-queued", hidden: true });
      const run = h("div", { class: "prw-tl-bar prw-tl-run", hidden: true });
      const label = h("span", { class: "prw-tl-label", title: name, text: name });
      const row = h(
        "div",
        { class: "prw-tl-row", "data-node-id": id, "data-testid": `prw-timeline-row-${id}` },
        label,
        h("div", { class: "prw-tl-track" }, queued, run),
      );
      rows.set(id, { el: row, label, queued, run, painted: {} });
      return row;
    });
    rowsEl.replaceChildren(...els);
  }

  function placeBar(bar, span, range, painted, which) {
    const total = range.t1 - range.t0;
    const left = span ? pct((span[0] - range.t0) / total) : "";
    const width = span ? pct((span[1] - span[0]) / total) : "";
    const key = `${left} ${width}`;
    if (painted[which] === key) return;
    painted[which] = key;
    bar.hidden = !span;
    bar.style.left = left;
    bar.style.width = width;
  }

  function paint(now) {
    const { rows: list, stepMap, pipeline } = last;
    const steps = list.map((r) => stepMap.get(r.id));
    const range = timeRange(steps, now, pipeline);
    empty.hidden = range != null;
    rowsEl.hidden = range == null || list.length === 0;
    axis.hidden = range == null;
    if (!range) return;
    const ticks = axisTicks(range.t1 - range.t0);
    const key = JSON.stringify([ticks, range.t1 - range.t0]);
    if (key !== ticksKey) {
      ticksKey = key;
      axis.replaceChildren(
        ...ticks.map((t) =>
          h("span", { class: "prw-tl-tick", style: `left:${pct(t / (range.t1 - range.t0))}`, text: formatElapsed(t) }),
        ),
      );
    }
    for (const { id } of list) {
      const entry = rows.get(id);
      const step = stepMap.get(id);
      const bars = stepBars(step, now);
      placeBar(entry.queued, bars.queued, range, entry.painted, "queued");
      placeBar(entry.run, bars.run, range, entry.painted, "run");
      const status = stepStatus(step);
      if (entry.painted.status !== status) {
        entry.painted.status = status;
        const info = statusInfo(status);
        entry.el.setAttribute("data-status", status);
        entry.run.className = `prw-tl-bar prw-tl-run prw-tone-${info.tone}`;
      }
      const title = barTitle(entry.label.textContent, step, bars);
      if (entry.painted.title !== title) {
        entry.painted.title = title;
        entry.el.title = title;
      }
    }
  }

  return {
    el,
    // rows: [{id, name}] in display order; stepMap: node_id -> step; pipeline: {start_time, end_time}
    update(list, stepMap, now, pipeline = {}) {
      buildRows(list);
      last = { rows: list, stepMap, pipeline };
      paint(now);
    },
    tick(now) {
      paint(now);
    },
    get rows() {
      return rows;
    },
  };
}

function barTitle(name, step, bars) {
  const parts = [name, statusInfo(stepStatus(step)).label];
  if (bars.queued) parts.push(`queued ${formatElapsed(bars.queued[1] - bars.queued[0])}`);
  if (bars.run) parts.push(`ran ${formatElapsed(bars.run[1] - bars.run[0])}`);
  return parts.join(" · ");
}
