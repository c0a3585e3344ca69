// @ts-check
import { h, breakableName, frameScheduler } from "./dom.js";
import { Series, formatValue } from "./metrics_data.js";
import { createChart, SERIES_COLOURS, SERIES_NAMES } from "./metric_chart.js";
import { readTheme } from "./metrics_area.js";
import { formatElapsed, statusInfo } from "./status.js";
import { createSweep } from "./compare_sweep.js";

// Past this many runs (the kernel's MANY_RUNS) the per-run columns would not fit: only the sweep
// table (bounded DOM) and the parallel coordinates are shown.
export const MANY_RUNS = 10;

// RunComparison (steprun_widgets/widgets/compare_widget.py): two or more runs side by side. Reads
// the traits `runs`, `steps`, `params`, `finals`, `charts`, `outputs`, `log_diff`, `live`,
// `connection(_detail)`; writes nothing (the parameter toggle is the view's own). Every text
// from the server is set as text, never as HTML.

const arr = (v) => (Array.isArray(v) ? v : []);
const str = (v) => (v == null ? "" : String(v));

/** A table: head texts, rows of cells (a cell is text or an element). */
function table(testId, head, rows) {
  return h(
    "table",
    { class: "rcw-table", "data-testid": testId },
    h("thead", {}, h("tr", {}, ...head.map((t) => h("th", { text: t })))),
    h("tbody", {}, ...rows.map((cells) => h("tr", {}, ...cells.map((c) => (c instanceof Node && c.nodeName === "TD" ? c : h("td", {}, c)))))),
  );
}

const section = (title, ...children) => h("section", { class: "rcw-section" }, h("h4", { class: "rcw-heading", text: title }), ...children);

/** "#1 name" with its colour swatch. */
function runLabel(run, k) {
  return h(
    "span",
    { class: "rcw-run-label" },
    h("span", { class: "rcw-swatch", style: `background:${SERIES_COLOURS[k % SERIES_COLOURS.length]}`, "aria-hidden": "true" }),
    str(run?.label),
  );
}

/** The parameters that differ first; `all` false keeps only those (and says how many are hidden). */
export function paramRows(params, all) {
  const list = arr(params).filter((p) => p && typeof p === "object");
  const differing = list.filter((p) => p.differs);
  return { shown: all ? [...differing, ...list.filter((p) => !p.differs)] : differing, differing: differing.length, total: list.length };
}

export function renderComparison({ model, el }) {
  let showAll = false;
  let theme = null;
  const charts = new Map(); // name -> { chart, series: Series[], key }
  const widths = new WeakMap();
  const resize =
    globalThis.ResizeObserver &&
    new ResizeObserver((entries) => {
      for (const e of entries) widths.set(e.target, e.contentRect.width);
      scheduler.schedule();
    });

  const head = h("div", { class: "rcw-head", "data-testid": "rcw-head" });
  const connection = h("div", { class: "srw-connection", "data-testid": "rcw-connection", hidden: true, "aria-live": "polite" });
  const runsEl = h("div");
  const stepsEl = h("div");
  const toggle = h("button", {
    type: "button",
    class: "srw-button rcw-toggle",
    "data-testid": "rcw-params-toggle",
    "aria-pressed": "false",
    onclick: () => {
      showAll = !showAll;
      paintParams();
    },
  });
  const paramsEl = h("div");
  const chartGrid = h("div", { class: "srw-charts", "data-testid": "rcw-charts" });
  const chartsEl = section("Metrics", chartGrid);
  const finalsEl = h("div");
  const outputsEl = h("div");
  const logEl = h("div");
  const sweep = createSweep();
  const paramsSection = section("Parameters", toggle, paramsEl);
  const root = h(
    "div",
    { class: "srw-root rcw-root", "data-testid": "rcw-root" },
    head,
    connection,
    runsEl,
    stepsEl,
    sweep.el,
    paramsSection,
    chartsEl,
    finalsEl,
    outputsEl,
    logEl,
  );
  el.replaceChildren(root);

  const runs = () => arr(model.get("runs"));
  const labels = () => runs().map((r) => str(r?.label));
  const many = () => runs().length > MANY_RUNS;

  function paintHead() {
    const list = runs();
    head.textContent = `Comparison of ${list.length} runs${model.get("live") ? " · live" : ""}`;
    const bad = model.get("connection") === "reconnecting";
    connection.hidden = !bad;
    connection.textContent = bad ? `reconnecting… — ${str(model.get("connection_detail"))}` : "";
    if (many()) return runsEl.replaceChildren(); // the sweep table lists them
    runsEl.replaceChildren(
      table(
        "rcw-runs",
        ["run", "kind", "status", "line"],
        list.map((r, k) => {
          const info = statusInfo(str(r?.status));
          return [runLabel(r, k), str(r?.kind), `${info.icon} ${info.label}`, SERIES_NAMES[k % SERIES_NAMES.length]];
        }),
      ),
    );
  }

  function paintSteps() {
    const steps = many() ? [] : arr(model.get("steps"));
    stepsEl.replaceChildren(
      ...(steps.length
        ? [
            section(
              "Steps",
              table(
                "rcw-steps",
                ["step", ...labels()],
                steps.map((s) => [
                  h("span", {}, ...breakableName(str(s?.name))),
                  ...arr(s?.cells).map((c) => {
                    if (!c) return "–";
                    const info = statusInfo(str(c.status));
                    const took = typeof c.duration_ms === "number" ? ` · ${formatElapsed(c.duration_ms)}` : "";
                    return `${info.icon} ${info.label}${took}${c.reused ? " · ♻ reused" : ""}`;
                  }),
                ]),
              ),
            ),
          ]
        : []),
    );
  }

  function paintParams() {
    const { shown, differing, total } = paramRows(many() ? [] : model.get("params"), showAll);
    toggle.textContent = showAll ? `Show only the ${differing} that differ` : `Show all ${total} parameters`;
    toggle.setAttribute("aria-pressed", String(showAll));
    toggle.hidden = total === differing;
    const note = differing ? "" : total ? `All ${total} parameters are the same.` : "No parameters.";
    paramsEl.replaceChildren(
      ...(note ? [h("div", { class: "rcw-note", text: note })] : []),
      ...(shown.length
        ? [
            table(
              "rcw-params",
              ["parameter", ...labels()],
              shown.map((p) => [
                h("span", { class: p.differs ? "rcw-differs" : "" }, p.differs ? "≠ " : "", ...breakableName(str(p.name))),
                ...arr(p.values).map((v) => (v == null ? "–" : str(v))),
              ]),
            ),
          ]
        : []),
    );
  }

  function paintFinals() {
    const finals = model.get("finals") ?? {};
    const names = many() ? [] : arr(finals.names).map(str);
    const best = finals.best ?? {};
    finalsEl.replaceChildren(
      ...(names.length
        ? [
            section(
              "Final values (★ best of each column)",
              table(
                "rcw-finals",
                ["run", ...names],
                arr(finals.values).map((values, k) => [
                  runLabel(runs()[k], k),
                  ...names.map((n, j) => {
                    const v = arr(values)[j];
                    const isBest = best[n] === k;
                    return h("td", { class: isBest ? "rcw-best" : "", text: `${isBest ? "★ " : ""}${v == null ? "–" : formatValue(v)}` });
                  }),
                ]),
              ),
            ),
          ]
        : []),
    );
  }

  function paintOutputs() {
    const outputs = many() ? [] : arr(model.get("outputs"));
    const size = (n) => (typeof n === "number" ? (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`) : "–");
    outputsEl.replaceChildren(
      ...(outputs.length
        ? [
            section(
              "Outputs",
              table(
                "rcw-outputs",
                ["output", ...labels(), "bytes"],
                outputs.map((o) => [
                  h("span", {}, ...breakableName(str(o?.name))),
                  ...arr(o?.sizes).map((s, k) => `${size(s)}${typeof arr(o.files)[k] === "number" ? ` (${o.files[k]} files)` : ""}`),
                  o?.differs === true ? "differ" : o?.differs === false ? "same sizes" : "–",
                ]),
              ),
            ),
          ]
        : []),
    );
  }

  function paintLog() {
    const diff = model.get("log_diff") ?? {};
    if (!diff || !Object.keys(diff).length) return logEl.replaceChildren();
    if (diff.same) return logEl.replaceChildren(section("Logs", h("div", { class: "rcw-note", text: `The two ${str(diff.log)} logs are the same.` })));
    logEl.replaceChildren(
      section(
        `Logs: first differing ${str(diff.log)} line (line ${str(diff.line)})`,
        ...arr(diff.lines).map((line, k) =>
          h("div", { class: "rcw-log-line", "data-testid": `rcw-log-${k}` }, runLabel(runs()[k], k), h("code", { text: line == null ? "(log ended)" : str(line) })),
        ),
      ),
    );
  }

  // Charts: one per metric, a Series per run in it (metric_chart.js draws them together).
  function syncCharts() {
    const list = arr(model.get("charts"));
    const names = new Set(list.map((c) => str(c?.name)));
    for (const [name, c] of charts) if (!names.has(name)) resize?.unobserve(c.chart.plotEl), c.chart.dispose(), charts.delete(name);
    list.forEach((entry, i) => {
      const name = str(entry?.name);
      const series = arr(entry?.series);
      const shape = series.map((s) => s.run).join(",");
      let held = charts.get(name);
      if (held && held.shape !== shape) resize?.unobserve(held.chart.plotEl), held.chart.dispose(), charts.delete(name), (held = undefined);
      if (!held) {
        const all = series.map(() => new Series(name));
        const lab = series.map((s) => labels()[s.run] ?? `#${s.run + 1}`);
        const chart = createChart(all[0], { theme: theme ?? {}, others: all.slice(1), labels: lab });
        chart.plotEl.style.setProperty("--rcw-lines", String(series.length));
        held = { chart, series: all, shape, key: "" };
        charts.set(name, held);
        resize?.observe(chart.plotEl);
      }
      const key = JSON.stringify(series.map((s) => arr(s.points).length + ":" + JSON.stringify(arr(s.points).at(-1))));
      if (key !== held.key) {
        held.key = key;
        series.forEach((s, k) => {
          held.series[k].clear();
          held.series[k].push(arr(s.points));
          held.series[k].count = arr(s.points).length;
        });
      }
      if (chartGrid.children[i] !== held.chart.el) chartGrid.insertBefore(held.chart.el, chartGrid.children[i] ?? null);
    });
    chartsEl.hidden = !list.length;
    scheduler.schedule();
  }

  function frame() {
    if (!theme?.line) {
      const t = readTheme(root);
      if (t.line || !theme) (theme = t), charts.forEach((c) => c.chart.setTheme(t));
    }
    for (const { chart } of charts.values()) chart.draw(widths.get(chart.plotEl) ?? chart.plotEl.clientWidth ?? 0);
  }
  const scheduler = frameScheduler(frame);

  function paintSweep() {
    sweep.set(model.get("sweep"), labels());
    for (const part of [runsEl, stepsEl, paramsSection, finalsEl, outputsEl]) part.hidden = many();
  }

  const paintAll = () => {
    paintSweep();
    paintHead();
    paintSteps();
    paintParams();
    paintFinals();
    paintOutputs();
    paintLog();
    syncCharts();
  };
  const listeners = [
    ["change:runs", paintAll],
    ["change:live", paintHead],
    ["change:connection", paintHead],
    ["change:connection_detail", paintHead],
    ["change:steps", paintSteps],
    ["change:params", paintParams],
    ["change:finals", paintFinals],
    ["change:outputs", paintOutputs],
    ["change:log_diff", paintLog],
    ["change:charts", syncCharts],
    ["change:sweep", paintSweep],
  ];
  for (const [event, fn] of listeners) model.on(event, fn);
  paintAll();

  return {
    el: root,
    charts,
    sweep,
    flush: () => scheduler.flush(),
    dispose() {
      for (const [event, fn] of listeners) model.off(event, fn);
      scheduler.dispose();
      resize?.disconnect();
      for (const c of charts.values()) c.chart.dispose();
      charts.clear();
    },
  };
}

export default {
  render({ model, el }) {
    return renderComparison({ model, el }).dispose;
  },
};

// For the render benchmark (js/bench/compare_render.html): the naive way draws one chart per run.
export { createChart } from "./metric_chart.js";
export { Series } from "./metrics_data.js";
