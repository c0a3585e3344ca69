// @ts-check
import { h, svg } from "./dom.js";
import { formatValue } from "./metrics_data.js";

// Many runs side by side (a sweep): a sortable table of runs × (differing parameters, final
// metric values) that renders only the rows in view (the DOM stays bounded however many runs),
// and a parallel-coordinates view of the same columns, a line per run. `sweep` is the kernel's
// `{"columns": [{name, kind, numeric}], "rows": [[run index, value, ...]]}`.

export const ROW_H = 24; // px, fixed: the window of rendered rows follows the scroll position
export const WINDOW = 30; // rows rendered at once (those in view and a margin)
const VIEW_ROWS = 14; // rows tall the scroll box is

const num = (v) => (typeof v === "number" ? v : v === "NaN" || v === "Infinity" || v === "-Infinity" ? Number(v) : NaN);

/** Rows sorted by column `col` (0: run order) ascending or not; values that are not numbers last. */
export function sortRows(rows, col, ascending = true, numeric = true) {
  const sign = ascending ? 1 : -1;
  const key = (r) => r[col];
  return [...rows].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    if (numeric) {
      const p = num(x);
      const q = num(y);
      const pn = Number.isFinite(p);
      const qn = Number.isFinite(q);
      if (pn !== qn) return pn ? -1 : 1;
      return (pn ? (p - q) * sign : 0) || a[0] - b[0];
    }
    if ((x == null) !== (y == null)) return x == null ? 1 : -1;
    return String(x ?? "").localeCompare(String(y ?? "")) * sign || a[0] - b[0];
  });
}

const cellText = (v) => (v == null ? "–" : typeof v === "number" || v === "NaN" || v === "Infinity" || v === "-Infinity" ? formatValue(v) : String(v));

export function createSweep() {
  let columns = [];
  let rows = [];
  let sorted = [];
  let labels = [];
  let sortCol = 0;
  let ascending = true;
  let first = -1;

  const headRow = h("tr");
  const body = h("tbody");
  const table = h("table", { class: "rcw-table rcw-sweep-table", "data-testid": "rcw-sweep" }, h("thead", {}, headRow), body);
  const scroller = h("div", { class: "rcw-sweep-scroll", "data-testid": "rcw-sweep-scroll", onscroll: () => paintRows() }, table);
  let shownRows = 0;
  const plot = h("div", { class: "rcw-parallel", "data-testid": "rcw-parallel" });
  const el = h("section", { class: "rcw-section", hidden: true }, h("h4", { class: "rcw-heading", text: "Runs (click a column to sort)" }), scroller, plot);

  function paintHead() {
    const names = ["run", ...columns.map((c) => c.name)];
    headRow.replaceChildren(
      ...names.map((name, k) =>
        h("th", {
          scope: "col",
          tabindex: 0,
          "aria-sort": k === sortCol ? (ascending ? "ascending" : "descending") : "none",
          text: `${name}${k === sortCol ? (ascending ? " ▲" : " ▼") : ""}`,
          onclick: () => sortBy(k),
          onkeydown: (e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), sortBy(k)),
        }),
      ),
    );
  }

  function paintRows(force = false) {
    const start = Math.max(0, Math.min(Math.floor(scroller.scrollTop / ROW_H) - 5, sorted.length - WINDOW));
    if (start === first && !force) return;
    first = start;
    const shown = sorted.slice(start, start + WINDOW);
    shownRows = shown.length;
    // rows out of view are two padding rows of their height (the header stays sticky above)
    const pad = (n) => h("tr", { class: "rcw-pad", "aria-hidden": "true", style: `height:${n * ROW_H}px` });
    body.replaceChildren(
      pad(start),
      ...shown.map((r) =>
        h("tr", { style: `height:${ROW_H}px` }, h("th", { scope: "row", text: labels[r[0]] ?? `#${r[0] + 1}` }), ...r.slice(1).map((v) => h("td", { text: cellText(v) }))),
      ),
      pad(sorted.length - start - shown.length),
    );
  }

  function sortBy(k) {
    ascending = k === sortCol ? !ascending : true;
    sortCol = k;
    sorted = sortRows(rows, k, ascending, k === 0 || columns[k - 1]?.numeric !== false);
    paintHead();
    paintRows(true);
  }

  // Parallel coordinates: an axis per column (numbers scaled to their range, text values spread
  // evenly in sorted order), a polyline per run with its label as its tooltip.
  function paintPlot() {
    const W = Math.max(360, 120 * columns.length);
    const H = 220;
    const top = 24;
    const bottom = H - 22;
    const x = (j) => 40 + (columns.length === 1 ? 0 : (j * (W - 80)) / (columns.length - 1));
    const scales = columns.map((c, j) => {
      const values = rows.map((r) => r[j + 1]);
      if (c.numeric) {
        const finite = values.map(num).filter(Number.isFinite);
        const lo = Math.min(...finite);
        const hi = Math.max(...finite);
        return { lo, hi, y: (v) => (Number.isFinite(num(v)) ? (hi === lo ? (top + bottom) / 2 : bottom - ((num(v) - lo) / (hi - lo)) * (bottom - top)) : null) };
      }
      const levels = [...new Set(values.filter((v) => v != null).map(String))].sort();
      return { levels, y: (v) => (v == null ? null : levels.length === 1 ? (top + bottom) / 2 : bottom - (levels.indexOf(String(v)) / (levels.length - 1)) * (bottom - top)) };
    });
    const lines = rows.map((r) => {
      const pts = [];
      columns.forEach((_, j) => {
        const y = scales[j].y(r[j + 1]);
        if (y != null) pts.push(`${x(j).toFixed(1)},${y.toFixed(1)}`);
      });
      return svg("polyline", { class: "rcw-pc-line", points: pts.join(" ") }, svg("title", { text: labels[r[0]] ?? `#${r[0] + 1}` }));
    });
    const axes = columns.map((c, j) => {
      const s = scales[j];
      const [hiText, loText] = c.numeric ? [formatValue(s.hi), formatValue(s.lo)] : [s.levels.at(-1) ?? "", s.levels[0] ?? ""];
      return svg(
        "g",
        { class: "rcw-pc-axis" },
        svg("line", { x1: x(j), x2: x(j), y1: top, y2: bottom }),
        svg("text", { x: x(j), y: 12, "text-anchor": "middle", text: c.name }),
        svg("text", { x: x(j) + 3, y: top + 4, text: hiText }),
        svg("text", { x: x(j) + 3, y: bottom + 12, text: loText }),
      );
    });
    plot.replaceChildren(
      columns.length
        ? svg("svg", { class: "rcw-pc", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `Parallel coordinates of ${rows.length} runs over ${columns.length} columns` }, ...lines, ...axes)
        : h("div", { class: "rcw-note", text: "No parameter differs and no metric was logged." }),
    );
  }

  return {
    el,
    get rendered() {
      return shownRows;
    },
    sortBy,
    set(sweep, runLabels) {
      columns = Array.isArray(sweep?.columns) ? sweep.columns : [];
      rows = Array.isArray(sweep?.rows) ? sweep.rows.filter(Array.isArray) : [];
      labels = runLabels;
      el.hidden = !rows.length;
      scroller.style.maxHeight = `${(VIEW_ROWS + 1) * ROW_H}px`;
      sorted = sortRows(rows, sortCol, ascending, sortCol === 0 || columns[sortCol - 1]?.numeric !== false);
      paintHead();
      paintRows(true);
      paintPlot();
    },
  };
}
