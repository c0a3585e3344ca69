import { describe, expect, it } from "vitest";
import { GRAPH_MAX_H, GraphView, NODE_H, NODE_W, edgePath, layoutGraph, shortName } from "../src/dag.js";
import { normalizeGraph } from "../src/pipeline_steps.js";
import { makeGraph } from "./fake-model.js";

describe("DAG layout", () => {
  it("places all 50 nodes of a 50-step graph, left to right, without overlaps", () => {
    const graph = normalizeGraph(makeGraph(50));
    const { positions, edges, width, height } = layoutGraph(graph);
    expect(positions.size).toBe(50);
    for (const p of positions.values()) {
      expect(Number.isFinite(p.x) && Number.isFinite(p.y)).toBe(true);
      expect(p.x).toBeGreaterThanOrEqual(0);
      expect(p.y).toBeGreaterThanOrEqual(0);
      expect(p.x + NODE_W).toBeLessThanOrEqual(width + 0.5);
      expect(p.y + NODE_H).toBeLessThanOrEqual(height + 0.5);
    }
    const boxes = [...positions.values()];
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i];
        const b = boxes[j];
        const overlap = a.x < b.x + NODE_W && b.x < a.x + NODE_W && a.y < b.y + NODE_H && b.y < a.y + NODE_H;
        expect(overlap).toBe(false);
      }
    }
    // rankdir LR: every edge goes to the right
    for (const [from, to] of graph.edges) expect(positions.get(from).x).toBeLessThan(positions.get(to).x);
    expect(edges).toHaveLength(graph.edges.length);
    for (const e of edges) expect(e.points.length).toBeGreaterThanOrEqual(2);
  });

  it("lays out top to bottom when asked", () => {
    const graph = normalizeGraph({ nodes: [{ id: "a" }, { id: "b" }], edges: [["a", "b"]] });
    const { positions } = layoutGraph(graph, { rankdir: "TB" });
    expect(positions.get("a").y).toBeLessThan(positions.get("b").y);
  });

  it("survives cycles, unknown ids, duplicates and self-loops", () => {
    const graph = normalizeGraph({
      nodes: [{ id: "a", name: "A" }, { id: "b" }, { id: "a", name: "again" }, { name: "no id" }, null],
      edges: [["a", "b"], ["b", "a"], ["a", "a"], ["a", "zzz"], ["a", "b"], "junk"],
    });
    expect(graph.nodes).toEqual([
      { id: "a", name: "A" },
      { id: "b", name: "b" },
    ]);
    expect(graph.edges).toEqual([
      ["a", "b"],
      ["b", "a"],
    ]);
    expect(layoutGraph(graph).positions.size).toBe(2);
    expect(normalizeGraph(undefined)).toMatchObject({ nodes: [], edges: [] });
  });

  it("gives the same key to an equal graph and a new one to a changed graph", () => {
    const a = normalizeGraph(makeGraph(5));
    expect(normalizeGraph(makeGraph(5)).key).toBe(a.key);
    expect(normalizeGraph(makeGraph(6)).key).not.toBe(a.key);
    expect(normalizeGraph(makeGraph(5, { name: (i) => `x${i}` })).key).not.toBe(a.key);
  });

  it("draws edge paths without NaN", () => {
    expect(edgePath([])).toBe("");
    expect(edgePath([{ x: 0, y: 0 }, { x: 10, y: 5 }])).toBe("M0,0L10,5");
    const d = edgePath([
      { x: 0, y: 0 },
      { x: 10, y: 10 },
      { x: 20, y: 0 },
      { x: 30, y: 10 },
    ]);
    expect(d.startsWith("M0,0")).toBe(true);
    expect(d.endsWith("L30,10")).toBe(true);
    expect(d).not.toMatch(/NaN/);
  });

  it("shortens long names with an ellipsis, by characters", () => {
    expect(shortName("short")).toBe("short");
    const long = "a-really-long-step-name-that-does-not-fit";
    const s = shortName(long);
    expect(s.endsWith("…")).toBe(true);
    expect(Array.from(s)).toHaveLength(20);
    expect(shortName("😀".repeat(30), 5)).toBe("😀😀😀😀…");
  });
});

describe("GraphView", () => {
  it("relayouts only for a different graph", () => {
    const view = new GraphView();
    expect(view.setGraph(normalizeGraph(makeGraph(10)))).toBe(true);
    expect(view.setGraph(normalizeGraph(makeGraph(10)))).toBe(false);
    expect(view.layoutCount).toBe(1);
    expect(view.setGraph(normalizeGraph(makeGraph(11)))).toBe(true);
    expect(view.layoutCount).toBe(2);
    expect(view.nodeLayer.children).toHaveLength(11);
    view.dispose();
  });

  it("zooms with the buttons and ctrl + wheel, and says the zoom level", () => {
    const view = new GraphView();
    view.setGraph(normalizeGraph(makeGraph(8)));
    const width0 = Number(view.svg.getAttribute("width"));
    expect(width0).toBe(view.layout.width);
    const [out, zin, fit, actual] = view.toolbar.querySelectorAll("button");
    zin.click();
    expect(Number(view.svg.getAttribute("width"))).toBeGreaterThan(width0);
    expect(view.zoomLabel.textContent).toBe("125%");
    actual.click();
    out.click();
    expect(view.zoomLabel.textContent).toBe("80%");
    const ctrlWheel = new WheelEvent("wheel", { deltaY: -100, cancelable: true });
    Object.defineProperty(ctrlWheel, "ctrlKey", { value: true }); // happy-dom drops the init flag
    view.scroller.dispatchEvent(ctrlWheel);
    expect(view.zoomLabel.textContent).toBe("88%");
    expect(ctrlWheel.defaultPrevented).toBe(true);
    const plain = new WheelEvent("wheel", { deltaY: -100, cancelable: true });
    view.scroller.dispatchEvent(plain);
    expect(view.zoomLabel.textContent).toBe("88%");
    expect(plain.defaultPrevented).toBe(false);
    expect(fit.getAttribute("aria-label")).toBe("Fit the whole graph");
    view.dispose();
  });

  it("fits the whole graph into its container, width and height", () => {
    const view = new GraphView();
    Object.defineProperty(view.scroller, "clientWidth", { configurable: true, get: () => 404 });
    view.setGraph(normalizeGraph(makeGraph(50)));
    // the first fit stops at 60 % so 50 steps stay readable; the rest scrolls
    expect(view.scale).toBe(0.6);
    view.fit();
    // the graph area is at most GRAPH_MAX_H tall: the whole graph, the tighter of the two
    const { width, height } = view.layout;
    expect(view.scale).toBeCloseTo(Math.min(400 / width, (GRAPH_MAX_H - 4) / height), 5);
    expect(view.scale * width).toBeLessThanOrEqual(404);
    expect(view.scale * height).toBeLessThanOrEqual(GRAPH_MAX_H);
    view.dispose();
  });
});

describe("edge labels near the picture's edge", () => {
  it("move in so the whole name shows", async () => {
    const { labelX } = await import("../src/dag.js");
    const half = ("dataset".length * 6.6) / 2 + 2;
    expect(labelX(5, "dataset", 300)).toBeCloseTo(half); // was centred at 5: cut to "ataset"
    expect(labelX(298, "dataset", 300)).toBeCloseTo(300 - half);
    expect(labelX(150, "dataset", 300)).toBe(150);
    expect(labelX(10, "dataset", 20)).toBe(10); // narrower than the label: centred
  });
});
