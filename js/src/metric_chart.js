// @ts-check
import uPlot from "uplot";
import { h } from "./dom.js";
import { bucketIndices, formatValue as fmt, smooth } from "./metrics_data.js";

/** Tick spacings of the step axis: 1, 2, 5, 10, 20, 50... (never a fraction of a step). */
export const WHOLE_STEPS = Array.from({ length: 13 }, (_, k) => [1, 2, 5].map((m) => m * 10 ** k)).flat();

const HEIGHT = 150;
let canvasOk;
// happy-dom (the unit tests) has no 2D canvas: a chart then keeps its text parts (summary,
// readout, keyboard) and skips the plot.
const canDraw = () => (canvasOk ??= !!document.createElement("canvas").getContext?.("2d"));

// One formatter for every readout: toLocaleString() would build one per call, each frame.
const n = "numeric";
const dateFormat = new Intl.DateTimeFormat(undefined, { year: n, month: n, day: n, hour: n, minute: "2-digit", second: "2-digit" });

// One point as text: "step 12 · 0.0321 (smoothed 0.033) · 2/12/2026, 01:02:03".
export function pointText(s, i, smoothed) {
  if (!(i >= 0 && i < s.n)) return "";
  const v = s.value[i];
  const t = s.time[i];
  return `step ${fmt(s.step[i])} · ${fmt(v)}${smoothed && Number.isFinite(v) ? ` (smoothed ${fmt(smoothed[i])})` : ""}${
    t === t ? ` · ${dateFormat.format(t)}` : ""
  }`;
}

// The text alternative of a chart: points, step range, last, min, max, non-finite count.
export function summaryText(s) {
  const st = s.stats();
  return `${s.name}: ${st.count} points${st.count > st.points ? ` (${st.points} here)` : ""}, steps ${fmt(st.firstStep)} to ${fmt(
    st.lastStep,
  )}, last ${fmt(st.last)}, min ${fmt(st.min)}, max ${fmt(st.max)}${st.nonFinite ? `, ${st.nonFinite} not finite` : ""}`;
}

// Line colours of a chart with several series (a comparison of runs): the first is the run
// named first; the static snapshot uses the same ones (snapshot.py SERIES_COLOURS).
export const SERIES_COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#59636e"];
export const SERIES_NAMES = ["blue", "red", "green", "ochre", "purple", "pink", "teal", "grey"];

// Index of `x` in a sorted series' steps, or -1 (binary search).
export function indexOfStep(s, x) {
  let lo = 0;
  let hi = s.n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = s.step[mid];
    if (v === x) return mid;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

// One metric's chart (uPlot), x = step: the raw series (faded while smoothing is on) and the
// smoothed one. NaN breaks the line. +/-Infinity, and values <= 0 on the log scale, are not on
// the line: a dot marks each at the top (+Infinity) or bottom of the range drawn. The drawn data
// is min/max-downsampled to the plot width (bucketIndices), so a 100,000-point series costs a
// few thousand points per redraw; the hover readout and the keyboard still reach every point.
// `draw(width)` is called by the area at most once per animation frame and returns without work
// when neither the series, the width, the smoothing nor the scale changed.
// `others` (more Series) and `labels` (one per series, `series` first) draw several runs in one
// chart: a line per series in SERIES_COLOURS, on the union of their steps; the readout then
// says each run's value at the step under the pointer.
export function createChart(series, { smoothing = 0, theme = {}, others = [], labels = [] } = {}) {
  const s = series;
  const multi = others.length > 0;
  const all = [s, ...others];
  const labelOf = (k) => labels[k] ?? all[k].name;
  let xs = new Float64Array(0); // multi: the steps drawn (union of every series' drawn points)
  let log = false;
  let plot = null;
  let drawnKey = "";
  let idx = new Uint32Array(0); // series index of each drawn point
  let smoothed = null; // smoothed values (Float64Array) while smoothing is on
  let smoothState = null;
  let smoothKey = "";
  let cursor = -1; // keyboard position (series index), -1: none
  let steering = false; // the keyboard is moving uPlot's cursor
  let pointer = false; // the mouse is over the plot
  let width = 0;

  // multi: "step 12 · #1 run: 0.031 · #2 run: 0.044" (a run without a value there says "–")
  const stepText = (x) =>
    `step ${fmt(x)} · ${all
      .map((o, k) => {
        const i = indexOfStep(o, x);
        return `${labelOf(k)}: ${i < 0 ? "–" : fmt(o.value[i])}`;
      })
      .join(" · ")}`;
  const lastText = () =>
    multi ? `last: ${all.map((o, k) => `${labelOf(k)}: ${o.n ? fmt(o.value[o.n - 1]) : "–"}`).join(" · ")}` : `last: ${pointText(s, s.n - 1, smoothed)}`;
  const logBox = h("input", { type: "checkbox", onchange: () => setLog(logBox.checked) });
  const desc = h("div", { class: "srw-chart-desc", hidden: true });
  const readout = h("div", { class: "srw-chart-readout", "data-testid": "srw-chart-readout" });
  const live = h("div", { class: "srw-sr-only", "aria-live": "polite" });
  const plotEl = h("div", {
    class: "srw-chart-plot",
    tabindex: 0,
    role: "img",
    "data-testid": "srw-chart-plot",
    "data-lm-suppress-shortcuts": "true",
    onkeydown: onKey,
    onpointerenter: () => (pointer = true),
    onpointerleave: () => {
      pointer = false;
      if (cursor < 0) readout.textContent = lastText();
    },
  });
  const el = h(
    "figure",
    { class: "srw-chart", "data-testid": `srw-chart-${s.name}` },
    h(
      "figcaption",
      { class: "srw-chart-head" },
      h("span", { class: "srw-chart-name", text: s.name }),
      h("label", { class: "srw-chart-log" }, logBox, "log y"),
    ),
    desc,
    plotEl,
    readout,
    live,
  );

  function reset() {
    plot?.destroy();
    plot = null;
    drawnKey = "";
  }

  function setLog(on) {
    log = logBox.checked = on;
    reset();
    draw(width);
  }

  const shown = (v) => Number.isFinite(v) && (!log || v > 0);

  // multi: x = the union of the series' drawn steps; a series without a point at a step has null
  // there (uPlot spans the gap), non-finite values have no mark.
  function multiColumns(pw) {
    const picks = all.map((o, k) => (k === 0 ? idx : bucketIndices(o.value, o.n, pw)));
    const steps = new Set();
    picks.forEach((p, k) => p.forEach((i) => steps.add(all[k].step[i])));
    xs = Float64Array.from([...steps].sort((a, b) => a - b));
    const at = new Map(Array.from(xs, (x, j) => [x, j]));
    const cols = [xs, ...all.map(() => new Array(xs.length).fill(null))];
    picks.forEach((p, k) =>
      p.forEach((i) => {
        const v = all[k].value[i];
        if (shown(v)) cols[k + 1][at.get(all[k].step[i])] = v;
      }),
    );
    return cols;
  }

  // uPlot's columns for the drawn points: x, raw, smoothed, marks.
  function columns() {
    const k = idx.length;
    const cols = [new Float64Array(k), [], [], []];
    let lo = Infinity;
    let hi = -Infinity;
    for (const i of idx) {
      const v = s.value[i];
      if (shown(v)) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    }
    if (lo > hi) lo = hi = 1;
    idx.forEach((i, j) => {
      const v = s.value[i];
      cols[0][j] = s.step[i];
      cols[1][j] = shown(v) ? v : null;
      cols[2][j] = smoothed && shown(v) && shown(smoothed[i]) ? smoothed[i] : null;
      cols[3][j] = shown(v) || v !== v ? null : v > 0 ? hi : lo;
    });
    return cols;
  }

  function create(w, data) {
    const t = theme;
    const axis = { stroke: t.muted, font: `11px ${t.font}`, grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid, width: 1 } };
    plot = new uPlot(
      {
        width: w,
        height: HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { fill: t.line } },
        scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
        // log scale: uPlot's own labels (it leaves the ticks between decades unlabelled)
        // x: whole steps only (a metric's step is an integer): ticks at 1, 2, 5, 10... apart
        axes: [
          { ...axis, incrs: WHOLE_STEPS, values: (u, vals) => vals.map((v) => (Number.isInteger(v) ? String(v) : "")) },
          { ...axis, size: 56, values: log ? undefined : (u, vals) => vals.map(fmt) },
        ],
        series: multi
          ? [{}, ...all.map((_, k) => ({ stroke: SERIES_COLOURS[k % SERIES_COLOURS.length], width: 1.5, spanGaps: true }))]
          : [
              {},
              { stroke: t.line, width: 1.25 },
              { stroke: t.line, width: 2 },
              { stroke: t.warn, paths: () => null, points: { show: true, size: 7, fill: t.warn } },
            ],
        hooks: { draw: [() => chart.redraws++], setCursor: [onHover] },
      },
      data,
      plotEl,
    );
  }

  // Brings the plot, the text alternative and the readout up to date; true when it redrew.
  function draw(w) {
    for (const o of all) o.sort();
    width = w;
    const w8 = chart.smoothing;
    if (`${s.epoch}/${w8}` !== smoothKey) (smoothKey = `${s.epoch}/${w8}`), (smoothState = null);
    if (w8 > 0 && smoothState?.n !== s.n) smoothState = smooth(s.value, s.n, w8, smoothState);
    smoothed = w8 > 0 ? smoothState.out : null;
    const sk = `${s.version}/${w8}`;
    desc.hidden = !s.description; // may come with a later trait, the points unchanged
    if (desc.textContent !== s.description) desc.textContent = s.description;
    const key = `${sk}/${others.map((o) => o.version).join(",")}/${w}/${log}/${!!plot}`;
    if (key === drawnKey) return false;
    drawnKey = key;
    plotEl.setAttribute("aria-label", multi ? all.map((o, k) => `${labelOf(k)}: ${summaryText(o)}`).join("; ") : summaryText(s));
    cursor = Math.min(cursor, s.n - 1); // a snapshot may have fewer points
    readout.textContent = cursor < 0 ? lastText() : multi ? stepText(s.step[cursor]) : pointText(s, cursor, smoothed); // smoothing may have moved
    const pw = Math.max(120, w | 0);
    idx = bucketIndices(s.value, s.n, pw);
    if (!w || !canDraw()) return false;
    const data = multi ? multiColumns(pw) : columns();
    if (!plot) create(pw, data);
    else {
      if (plot.width !== pw) plot.setSize({ width: pw, height: HEIGHT });
      plot.setData(data);
    }
    if (!multi) plot.series[1].alpha = smoothed ? 0.35 : 1;
    return true;
  }

  // uPlot calls this on mouse moves and after each setData; only the mouse changes the readout
  // (new data must not take the keyboard's point away).
  function onHover(u) {
    const j = u.cursor.idx;
    if (steering || !pointer || j == null) return;
    cursor = -1;
    live.textContent = "";
    readout.textContent = multi ? stepText(xs[j]) : pointText(s, idx[j], smoothed);
  }

  // Arrow keys step through the points, PageUp/PageDown a tenth of them, Home/End to the ends,
  // Escape back to "last"; the readout shows the point and a polite live region announces it.
  function onKey(e) {
    const n = s.sort().n;
    const at = cursor < 0 ? n - 1 : cursor;
    const tenth = Math.max(1, Math.round(n / 10));
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, PageDown: at + tenth, PageUp: at - tenth, Home: 0, End: n - 1, Escape: -1 }[e.key];
    if (next === undefined || !n) return;
    e.preventDefault();
    e.stopPropagation(); // the notebook would take the arrow keys (ArrowUp: the cell above)
    moveTo(next < 0 && e.key !== "Escape" ? 0 : Math.min(n - 1, next));
  }

  function moveTo(i) {
    cursor = i;
    const text = i < 0 ? lastText() : multi ? stepText(s.step[i]) : pointText(s, i, smoothed);
    readout.textContent = text;
    live.textContent = i < 0 ? "" : `${s.name}, ${text}`;
    if (!plot) return;
    steering = true;
    const v = s.value[i];
    plot.setCursor(i < 0 ? { left: -10, top: -10 } : { left: plot.valToPos(s.step[i], "x"), top: shown(v) ? plot.valToPos(v, "y") : HEIGHT / 3 });
    steering = false;
  }

  const chart = {
    el,
    plotEl,
    series: s,
    smoothing,
    redraws: 0,
    draw,
    setLog,
    moveTo,
    setTheme(t) {
      theme = t;
      reset();
    },
    dispose() {
      reset();
      el.remove();
    },
  };
  return chart;
}
