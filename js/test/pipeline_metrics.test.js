import { afterEach, describe, expect, it } from "vitest";
import { renderPipelineWidget, sortRows, tableRows } from "../src/pipeline_widget.js";
import { byTestId, makeSteps, pipelineModel } from "./fake-model.js";

const XSS = "<img src=x onerror=alert(1)>";
let mounted = [];

const graph = {
  nodes: [
    { id: "n1", name: "prep" },
    { id: "n2", name: "train" },
    { id: "n3", name: "eval" },
  ],
  edges: [["n1", "n2"], ["n2", "n3"]],
};
const TABLE = {
  names: ["loss", "acc"],
  rows: [
    { node_id: "n2", run_id: "r2", values: { loss: 0.25, acc: 0.9 } },
    { node_id: "n3", run_id: "r3", values: { loss: "NaN", acc: 0.95 } },
    { node_id: "n1", run_id: "r1", values: { loss: 1.5 } },
  ],
};

function mount(state = {}) {
  const model = pipelineModel({ graph, steps: makeSteps(graph), ...state });
  const el = document.createElement("div");
  document.body.append(el);
  const handle = renderPipelineWidget({ model, el });
  mounted.push(handle);
  return { model, el, get: (id) => byTestId(el, id) };
}

const body = (table) => [...table.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((c) => c.textContent));

afterEach(() => {
  for (const h of mounted) h.dispose();
  mounted = [];
  document.body.textContent = "";
});

describe("PipelineRunWidget step × metric table", () => {
  it("is hidden without a metrics_table and when it is empty", () => {
    const { get, model } = mount();
    expect(get("prw-metrics").parentElement.parentElement.hidden).toBe(true);
    model.set("metrics_table", { names: [], rows: [] });
    expect(get("prw-metrics").parentElement.parentElement.hidden).toBe(true);
    model.set("metrics_table", TABLE);
    expect(get("prw-metrics").parentElement.parentElement.hidden).toBe(false);
  });

  it("shows the last value of each metric per step, named from the graph", () => {
    const { get } = mount({ metrics_table: TABLE });
    const table = get("prw-metrics");
    expect([...table.querySelectorAll("thead th")].map((th) => th.textContent)).toEqual(["step", "loss", "acc"]);
    expect(body(table)).toEqual([
      ["train", "0.25", "0.9"],
      ["eval", "NaN", "0.95"],
      ["prep", "1.5", ""],
    ]);
    expect(table.querySelector("tbody th").title).toBe("run r2");
  });

  it("sorts by a column when its header is clicked, the other way on a second click", () => {
    const { get } = mount({ metrics_table: TABLE });
    const table = () => get("prw-metrics");
    const th = (name) => get(`prw-metrics-sort-${name}`).parentElement;
    get("prw-metrics-sort-loss").click();
    expect(body(table()).map((r) => r[0])).toEqual(["train", "prep", "eval"]); // NaN after the numbers
    expect(th("loss").getAttribute("aria-sort")).toBe("ascending");
    expect(th("acc").getAttribute("aria-sort")).toBe("none");
    expect(document.activeElement).toBe(get("prw-metrics-sort-loss")); // focus stays on the header
    get("prw-metrics-sort-loss").click();
    expect(body(table()).map((r) => r[0])).toEqual(["prep", "train", "eval"]);
    expect(th("loss").getAttribute("aria-sort")).toBe("descending");
    get("prw-metrics-sort-acc").click();
    expect(body(table()).map((r) => r[0])).toEqual(["train", "eval", "prep"]); // missing last
    get("prw-metrics-sort-step").click();
    expect(body(table()).map((r) => r[0])).toEqual(["eval", "prep", "train"]);
    expect(get("prw-metrics-sort-acc").tagName).toBe("BUTTON"); // keyboard: Tab to it, Enter/Space
  });

  it("keeps the sort when the trait changes, and follows renamed nodes", () => {
    const { get, model } = mount({ metrics_table: TABLE });
    get("prw-metrics-sort-loss").click();
    model.set("metrics_table", {
      names: ["loss"],
      rows: [...TABLE.rows, { node_id: "n4", run_id: "r4", values: { loss: "-Infinity" } }],
    });
    expect(body(get("prw-metrics")).map((r) => r.join("|"))).toEqual(["n4|-∞", "train|0.25", "prep|1.5", "eval|NaN"]);
    model.set("graph", { ...graph, nodes: [...graph.nodes, { id: "n4", name: "report" }] });
    expect(body(get("prw-metrics"))[0][0]).toBe("report");
  });

  it("renders metric and step names as text", () => {
    const { get, el } = mount({
      graph: { nodes: [{ id: "x", name: XSS }], edges: [] },
      metrics_table: { names: [XSS], rows: [{ node_id: "x", run_id: "r", values: { [XSS]: 1 } }] },
    });
    expect(el.querySelectorAll("img").length).toBe(0);
    expect(get("prw-metrics").textContent).toContain(XSS);
  });

  it("ignores malformed rows", () => {
    const { rows, names } = tableRows({ names: ["a", 3], rows: [null, { node_id: 5 }, { node_id: "n", values: null }] });
    expect(names).toEqual(["a"]);
    expect(rows).toHaveLength(1);
    expect(rows[0].has).toEqual([false]);
    expect(sortRows(rows, 0, true)).toHaveLength(1);
  });
});
