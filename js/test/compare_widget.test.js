import { afterEach, describe, expect, it } from "vitest";
import { renderComparison, paramRows } from "../src/compare_widget.js";
import { FakeModel, byTestId } from "./fake-model.js";

const XSS = "<img src=x onerror=alert(1)>";
let mounted = [];
afterEach(() => {
  for (const m of mounted) m.dispose();
  mounted = [];
  document.body.textContent = "";
});

const STATE = {
  runs: [
    { id: "a".repeat(32), label: "#1 first", kind: "pipeline", status: "Finished" },
    { id: "b".repeat(32), label: "#2 second", kind: "pipeline", status: "Running" },
  ],
  steps: [{ name: "train", cells: [{ status: "Finished", duration_ms: 5000, reused: false }, { status: "Finished", duration_ms: 0, reused: true }] }],
  params: [
    { name: "train/lr", values: ["0.1", "0.01"], differs: true },
    { name: "train/epochs", values: ["3", "3"], differs: false },
    { name: XSS, values: [XSS, XSS], differs: false },
  ],
  finals: { names: ["train/loss", "train/acc"], values: [[0.5, 0.8], [0.25, 0.7]], best: { "train/loss": 1, "train/acc": 0 } },
  charts: [
    {
      name: "train/loss",
      series: [
        { run: 0, points: [[0, 1, 1], [1, 0.7, 2], [2, 0.5, 3]] },
        { run: 1, points: [[0, 0.9, 1], [1, 0.4, 2], [2, 0.25, 3], [3, 0.2, 4]] },
      ],
    },
  ],
  outputs: [{ name: "train/model", sizes: [10, 12], files: [1, 1], differs: true }],
  log_diff: {},
  live: true,
  connection: "ok",
  connection_detail: "",
};

function mount(state = STATE) {
  const model = new FakeModel(state, {});
  const el = document.createElement("div");
  document.body.append(el);
  const handle = renderComparison({ model, el });
  mounted.push(handle);
  return { model, el, handle, get: (id) => byTestId(el, id) };
}

const rowsOf = (table) => [...table.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((c) => c.textContent));

describe("RunComparison view", () => {
  it("lists the differing parameters first and shows the rest on the toggle", () => {
    const { get } = mount();
    expect(rowsOf(get("rcw-params"))).toEqual([["≠ train/lr", "0.1", "0.01"]]);
    const toggle = get("rcw-params-toggle");
    expect(toggle.textContent).toBe("Show all 3 parameters");
    toggle.click();
    expect(rowsOf(get("rcw-params")).map((r) => r[0])).toEqual(["≠ train/lr", "train/epochs", XSS]);
    expect(toggle.getAttribute("aria-pressed")).toBe("true");
    expect(document.querySelector("img")).toBeNull(); // server text stays text
  });

  it("matches steps by name, marks the best final value per column and whether outputs differ", () => {
    const { get } = mount();
    expect(rowsOf(get("rcw-steps"))).toEqual([["train", "✔ Finished · 5s", "✔ Finished · 0s · ♻ reused"]]);
    expect(rowsOf(get("rcw-finals"))).toEqual([
      ["#1 first", "0.5", "★ 0.8"],
      ["#2 second", "★ 0.25", "0.7"],
    ]);
    expect(rowsOf(get("rcw-outputs"))).toEqual([["train/model", "10 B (1 files)", "12 B (1 files)", "differ"]]);
    expect(get("rcw-head").textContent).toBe("Comparison of 2 runs · live");
  });

  it("draws one chart per metric with a line per run, and reads every run's value at a step", () => {
    const { el, handle } = mount();
    const charts = el.querySelectorAll("[data-testid^=srw-chart-]");
    expect([...charts].filter((c) => c.tagName === "FIGURE").length).toBe(1);
    handle.flush();
    const chart = handle.charts.get("train/loss").chart;
    expect(chart.el.querySelector("[data-testid=srw-chart-readout]").textContent).toBe("last: #1 first: 0.5 · #2 second: 0.2");
    chart.moveTo(1);
    expect(chart.el.querySelector("[data-testid=srw-chart-readout]").textContent).toBe("step 1 · #1 first: 0.7 · #2 second: 0.4");
    expect(chart.plotEl.getAttribute("aria-label")).toContain("#2 second: train/loss: 4 points");
  });

  it("says the first differing log line of two step runs", () => {
    const { get, model } = mount({ ...STATE, log_diff: { log: "stdout", same: false, line: 3, lines: ["loss 0.5", null] } });
    expect(get("rcw-log-0").textContent).toBe("#1 firstloss 0.5");
    expect(get("rcw-log-1").textContent).toBe("#2 second(log ended)");
    model.set("log_diff", { log: "stdout", same: true });
    expect(get("rcw-root").textContent).toContain("The two stdout logs are the same.");
  });

  it("paramRows keeps the order the kernel gave within each part", () => {
    expect(paramRows([{ name: "b", differs: false }, { name: "a", differs: true }], true).shown.map((p) => p.name)).toEqual(["a", "b"]);
  });
});

describe("RunComparison of many runs (a sweep)", () => {
  const N = 200;
  const sweepState = () => ({
    ...STATE,
    runs: Array.from({ length: N }, (_, i) => ({ id: `r${i}`, label: `#${i + 1} run`, kind: "step", status: "Finished" })),
    steps: [],
    params: [{ name: "lr", values: Array.from({ length: N }, (_, i) => String(i / 1000)), differs: true }],
    finals: { names: [], values: [], best: {} },
    charts: [],
    outputs: [],
    sweep: {
      columns: [
        { name: "lr", kind: "param", numeric: true },
        { name: "opt", kind: "param", numeric: false },
        { name: "loss", kind: "metric", numeric: true },
      ],
      rows: Array.from({ length: N }, (_, i) => [i, i / 1000, i % 2 ? "adam" : "sgd", i === 7 ? "NaN" : (N - i) / N]),
    },
  });

  it("renders a bounded window of rows, sorts on a header click, and draws a line per run", () => {
    const { el, handle, get } = mount(sweepState());
    const rows = () => [...get("rcw-sweep").querySelectorAll("tbody tr:not(.rcw-pad)")];
    expect(handle.sweep.rendered).toBeLessThanOrEqual(30);
    expect(rows().length).toBe(handle.sweep.rendered);
    expect(el.querySelectorAll("*").length).toBeLessThan(1500); // not 200 runs × every table
    expect(get("rcw-runs")).toBeNull();
    const loss = () => [...get("rcw-sweep").querySelectorAll("thead th")].find((th) => th.textContent.startsWith("loss"));
    loss().click();
    expect(rows()[0].firstChild.textContent).toBe("#200 run"); // lowest loss first
    expect(loss().getAttribute("aria-sort")).toBe("ascending");
    loss().click();
    expect(rows()[0].firstChild.textContent).toBe("#1 run");
    expect(get("rcw-parallel").querySelectorAll("polyline").length).toBe(N);
    expect(get("rcw-parallel").querySelectorAll(".rcw-pc-axis").length).toBe(3);
  });

  it("follows the scroll with the rows it renders", () => {
    const { handle, get } = mount(sweepState());
    const scroller = get("rcw-sweep-scroll");
    scroller.scrollTop = 100 * 24;
    scroller.dispatchEvent(new Event("scroll"));
    const first = get("rcw-sweep").querySelector("tbody tr:not(.rcw-pad) th").textContent;
    expect(first).toBe("#96 run");
    expect(handle.sweep.rendered).toBe(30);
  });
});
