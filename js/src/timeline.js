// @ts-check
import { h } from "./dom.js";
import { formatElapsed, statusInfo } from "./status.js";
import { isTime, stepStatus, stepIsLive } from "./pipeline_steps.js";
import { groupStatus, groupTestKey } from "./graph_groups.js";
import { stepTimes, clockTime } from "./step_times.js";

// Gantt-like timeline: one row per step on a shared time axis, a light bar from queued to start
// and a bar in the status colour from start to end. Open bars end at `now`, so the axis and
// every bar are recomputed each second while something runs (50 rows: a few style writes).
// A group of the graph (graph_groups.js) is one row spanning its steps, which a click unfolds
// below it; the rows scroll inside a bounded height (pipeline_widget.css), so 200 steps never
// make the widget 200 rows tall. A step that has not started has no bar and no time.

const notStarted = (step) => stepStatus(step) === "NotStarted";

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
    if (!step || notStarted(step)) continue;
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

/**
 * How many intervals between labels an axis `widthPx` wide holds, each 64 px at least (the widest
 * label, "1h 05m", is about 56 px): the axis shows one label more than this.
 * @param {number} widthPx the axis's width (0 when not laid out: the default)
 * @returns {number}
 */
export function axisTickCount(widthPx) {
  return widthPx > 0 ? Math.max(1, Math.min(MAX_TICKS, Math.floor(widthPx / 64))) : MAX_TICKS;
}

// Offsets (ms from t0) of the axis labels: a "nice" step giving at most MAX_TICKS labels.
// `maxTicks`: fewer on a narrow axis (axisTickCount), so labels never overlap.
export function axisTicks(span, maxTicks = MAX_TICKS) {
  const step = TICK_STEPS.find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks / 86400000) * 86400000;
  const ticks = [];
  for (let t = 0; t <= span; t += step) ticks.push(t);
  return ticks;
}

// The two bars of a step as [start, end] ms, or null where there is none.
export function stepBars(step, now) {
  if (!step || notStarted(step)) return { queued: null, run: null };
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

// One bar pair spanning a group's steps: queued from the first queue time to the first start,
// running from the first start to the last end (now while one of them is still open).
export function groupBars(steps, now) {
  let q0 = Infinity;
  let qEnd = -Infinity;
  let s0 = Infinity;
  let s1 = -Infinity;
  for (const step of steps) {
    const { queued, run } = stepBars(step, now);
    if (queued) {
      q0 = Math.min(q0, queued[0]);
      qEnd = Math.max(qEnd, queued[1]);
    }
    if (run) {
      s0 = Math.min(s0, run[0]);
      s1 = Math.max(s1, run[1]);
    }
  }
  const run = Number.isFinite(s0) ? [s0, s1] : null;
  let queued = null;
  if (Number.isFinite(q0)) queued = [q0, run ? Math.max(q0, s0) : qEnd];
  return { queued, run };
}

const pct = (v) => `${(Math.round(v * 1000) / 10).toFixed(1)}%`;

export function createTimeline({ onSelect = () => {} } = {}) {
  const axis = h("div", { class: "prw-tl-axis", "aria-hidden": "true" });
  const rowsEl = h("div", { class: "prw-tl-rows" });
  const empty = h("div", { class: "prw-tl-empty", text: "No step has been queued yet." });
  // data-lm-suppress-shortcuts: Enter on a group row unfolds it, not JupyterLab's cell edit mode.
  const el = h(
    "section",
    { class: "prw-timeline", "data-testid": "prw-timeline", "aria-label": "Timeline", "data-lm-suppress-shortcuts": "true" },
    h("div", { class: "prw-tl-head" }, h("span", { class: "prw-tl-title", text: "Timeline" }), axis),
    empty,
    rowsEl,
  );
  const expanded = new Set(); // group ids unfolded in the timeline
  const activate = (row) => {
    const id = row.getAttribute("data-node-id");
    if (!row.classList.contains("prw-tl-group")) return onSelect(id);
    if (expanded.has(id)) expanded.delete(id);
    else expanded.add(id);
    const focused = row.getRootNode().activeElement === row;
    buildRows(last.rows, last.stepMap);
    paint(lastNow);
    if (focused) rows.get(id)?.el.focus(); // the rows were rebuilt: the focus would drop to the page
  };
  rowsEl.addEventListener("click", (event) => {
    const row = event.target?.closest?.(".prw-tl-row");
    if (row) activate(row);
  });
  rowsEl.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    const row = event.target?.closest?.(".prw-tl-group");
    if (!row) return;
    event.preventDefault();
    activate(row);
  });

  let rows = new Map(); // id -> { el, label, queued, run, painted, members }
  let rowKey = null;
  let ticksKey = null;
  let lastNow = Date.now();
  let last = { rows: [], stepMap: new Map(), pipeline: {} };

  function rowEl(id, name, { group = null, member = false } = {}) {
    const queued = h("div", { class: "prw-tl-bar prw-tl-queued", hidden: true });
    const run = h("div", { class: "prw-tl-bar prw-tl-run", hidden: true });
    const open = group && expanded.has(id);
    const label = h("span", { class: "prw-tl-label", title: name, text: group ? `${open ? "▾" : "▸"} ${name}` : name });
    const row = h(
      "div",
      {
        class: `prw-tl-row${group ? " prw-tl-group" : ""}${member ? " prw-tl-member" : ""}`,
        "data-node-id": id,
        "data-testid": group ? `prw-timeline-group-${groupTestKey(group)}` : `prw-timeline-row-${id}`,
        ...(group ? { role: "button", tabindex: 0, "aria-expanded": open ? "true" : "false" } : {}),
      },
      label,
      h("div", { class: "prw-tl-track" }, queued, run),
    );
    rows.set(id, { el: row, label, name, queued, run, painted: {}, members: group?.members ?? null });
    return row;
  }

  function buildRows(list, stepMap) {
    const key = JSON.stringify([list.map((r) => [r.id, r.name, r.group?.members ?? null]), [...expanded]]);
    if (key === rowKey) return;
    rowKey = key;
    rows = new Map();
    const els = [];
    for (const entry of list) {
      els.push(rowEl(entry.id, entry.name, { group: entry.group ?? null }));
      if (entry.group && expanded.has(entry.id)) {
        for (const id of entry.group.members) els.push(rowEl(id, String(stepMap.get(id)?.name || id), { member: true }));
      }
    }
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

  // a new width may hold more or fewer axis labels (axisTickCount): paint again at the last time
  const resizes =
    typeof ResizeObserver === "function"
      ? new ResizeObserver(() => {
          if (last && lastNow != null) paint(lastNow);
        })
      : null;
  resizes?.observe(axis);

  function paint(now) {
    lastNow = now;
    const { stepMap, pipeline } = last;
    const range = timeRange([...stepMap.values()], now, pipeline);
    empty.hidden = range != null;
    rowsEl.hidden = range == null || rows.size === 0;
    axis.hidden = range == null;
    if (!range) return;
    const ticks = axisTicks(range.t1 - range.t0, axisTickCount(axis.clientWidth));
    const key = JSON.stringify([ticks, range.t1 - range.t0]);
    if (key !== ticksKey) {
      ticksKey = key;
      axis.replaceChildren(
        ...ticks.map((t) =>
          h("span", { class: "prw-tl-tick", style: `left:${pct(t / (range.t1 - range.t0))}`, text: formatElapsed(t) }),
        ),
      );
    }
    for (const [id, entry] of rows) {
      const steps = entry.members ? entry.members.map((m) => stepMap.get(m)) : null;
      const step = steps ? null : stepMap.get(id);
      const bars = steps ? groupBars(steps, now) : stepBars(step, now);
      placeBar(entry.queued, bars.queued, range, entry.painted, "queued");
      placeBar(entry.run, bars.run, range, entry.painted, "run");
      const status = steps ? groupStatus(entry.members, stepMap) : stepStatus(step);
      if (entry.painted.status !== status) {
        entry.painted.status = status;
        const info = statusInfo(status);
        entry.el.setAttribute("data-status", status);
        entry.run.className = `prw-tl-bar prw-tl-run prw-tone-${info.tone}`;
      }
      const title = steps ? groupTitle(entry.name, steps, bars, now) : barTitle(entry.name, step, now);
      if (entry.painted.title !== title) {
        entry.painted.title = title;
        entry.el.title = title;
      }
    }
  }

  return {
    el,
    // rows: [{id, name, group?}] in display order (a group: graph_groups.groupGraph's);
    // stepMap: node_id -> step; pipeline: {start_time, end_time}
    update(list, stepMap, now, pipeline = {}) {
      last = { rows: list, stepMap, pipeline };
      buildRows(list, stepMap);
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

// A bar's tooltip: the step, its status and its times (step_times.js).
export function barTitle(name, step, now) {
  return [`${name} · ${statusInfo(stepStatus(step)).label}`, ...stepTimes(step, now)].join("\n");
}

function groupTitle(name, steps, bars, now) {
  const counts = new Map();
  for (const step of steps) {
    const label = statusInfo(stepStatus(step)).label.toLowerCase();
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const lines = [name, `${steps.length} steps · ${[...counts].map(([l, c]) => `${c} ${l}`).join(" · ")}`];
  // from the steps' states, not the times: the server's clock may be ahead of this one
  const live = steps.some(stepIsLive);
  if (bars.run) lines.push(`First started ${clockTime(bars.run[0], now)}`, `Last ${live ? "still running" : `ended ${clockTime(bars.run[1], now)}`}`);
  lines.push("Click to list them here");
  return lines.join("\n");
}
