import { h } from "./dom.js";
import { formatValue, toNumber } from "./metrics_data.js";

// The `metrics_table` trait as rows the table shows: `names` (metric columns) and per row the
// step's name (from the graph; the node id when it has none), node id, run id and the last
// value of each metric as a number (NaN where the step has none or logged NaN; `has` tells).
export function tableRows(trait, nodeNames = new Map()) {
  const t = trait && typeof trait === "object" ? trait : {};
  const names = Array.isArray(t.names) ? t.names.filter((n) => typeof n === "string") : [];
  const rows = (Array.isArray(t.rows) ? t.rows : [])
    .filter((r) => r && typeof r === "object" && typeof r.node_id === "string")
    .map((r) => {
      const values = r.values && typeof r.values === "object" ? r.values : {};
      return {
        nodeId: r.node_id,
        runId: typeof r.run_id === "string" ? r.run_id : "",
        name: nodeNames.get(r.node_id) || r.node_id,
        values: names.map((n) => toNumber(values[n])),
        has: names.map((n) => values[n] !== undefined && values[n] !== null),
      };
    });
  return { names, rows };
}

// Sorts rows by column `col` (-1: the step name), ascending or not. Missing values go last
// whichever the direction, then NaN, so the numbers stay together; ties keep the graph order.
export function sortRows(rows, col, ascending) {
  const rank = (r) => (col < 0 ? 0 : !r.has[col] ? 3 : Number.isNaN(r.values[col]) ? 2 : 1);
  const dir = ascending ? 1 : -1;
  return rows
    .map((r, i) => [r, i])
    .sort(([a, i], [b, j]) => {
      const ra = rank(a);
      const rb = rank(b);
      if (ra !== rb || ra > 1) return ra - rb || i - j;
      const d = col < 0 ? a.name.localeCompare(b.name, "en", { numeric: true }) : a.values[col] - b.values[col];
      return d * dir || i - j;
    })
    .map(([r]) => r);
}

// The step × metric table of a PipelineRunWidget: one row per step that logged metrics, the last
// value of each. A column header is a button (click, Enter or Space): sorts by that column,
// again: the other way; `aria-sort` says which. Hidden when there is nothing to show.
export function createMetricsTable() {
  let data = { names: [], rows: [] };
  let sort = { col: -2, ascending: true }; // -2: graph order
  const table = h("table", { class: "prw-metrics-table", "data-testid": "prw-metrics" });
  const el = h(
    "div",
    { class: "prw-metrics", hidden: true },
    h("div", { class: "prw-metrics-title", text: "Metrics (last values)" }),
    h("div", { class: "prw-metrics-scroll" }, table),
  );

  function header(label, col) {
    const active = sort.col === col;
    const button = h("button", {
      type: "button",
      class: "prw-sort",
      "data-testid": `prw-metrics-sort-${col < 0 ? "step" : label}`,
      text: label,
      onclick: () => {
        sort = { col, ascending: active ? !sort.ascending : true };
        paint();
        table.querySelector(`[data-col="${col}"] button`)?.focus();
      },
    });
    return h(
      "th",
      { scope: "col", "data-col": col, "aria-sort": active ? (sort.ascending ? "ascending" : "descending") : "none" },
      button,
      h("span", { class: "prw-sort-mark", "aria-hidden": "true", text: active ? (sort.ascending ? " ▲" : " ▼") : "" }),
    );
  }

  function paint() {
    const { names, rows } = data;
    el.hidden = !names.length || !rows.length;
    if (el.hidden) return table.replaceChildren();
    const shown = sort.col < -1 ? rows : sortRows(rows, sort.col, sort.ascending);
    table.replaceChildren(
      h("thead", {}, h("tr", {}, header("step", -1), ...names.map((n, i) => header(n, i)))),
      h(
        "tbody",
        {},
        ...shown.map((r) =>
          h(
            "tr",
            { "data-testid": `prw-metrics-row-${r.nodeId}` },
            h("th", { scope: "row", text: r.name, title: r.runId ? `run ${r.runId}` : null }),
            ...r.values.map((v, i) => h("td", { class: "prw-num", text: r.has[i] ? formatValue(v) : "" })),
          ),
        ),
      ),
    );
  }

  return {
    el,
    // `nodeNames`: node id -> step name, from the graph.
    update(trait, nodeNames) {
      data = tableRows(trait, nodeNames);
      paint();
    },
  };
}
