import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { GRAPH_MAX_H, GraphView, LEGEND, edgeLabel, fitScale, layoutGraph, midPoint } from "../src/dag.js";
import { MAX_LAYER, groupGraph, groupStatus, groupView, layers, matchSteps } from "../src/graph_groups.js";
import { clockTime, nodeTitle, stepTimes } from "../src/step_times.js";
import { createTimeline, groupBars, stepBars } from "../src/timeline.js";
import { normalizeGraph, nodeView, stepsByNode } from "../src/pipeline_steps.js";
import { renderPipelineWidget } from "../src/pipeline_widget.js";
import { byTestId, makeGraph, pipelineModel } from "./fake-model.js";

const T = new Date(2026, 11, 2, 14, 3, 7).getTime(); // local time: the tooltips show local time

// source -> `width` parallel steps -> sink, each edge carrying its PipelineData (the scale tests' shape).
function fan(width = 198) {
  const nodes = [{ id: "src", name: "source" }];
  const edges = [];
  for (let i = 0; i < width; i++) {
    nodes.push({ id: `p${i}`, name: `part-${i}` });
    edges.push(["src", `p${i}`, ["root"]], [`p${i}`, "sink", [`d_${i}`]]);
  }
  nodes.push({ id: "sink", name: "sink" });
  return { nodes, edges };
}

function fanSteps(width = 198) {
  const steps = [{ node_id: "src", name: "source", status: "Finished", queued_time: T, start_time: T + 1000, end_time: T + 5000 }];
  for (let i = 0; i < width; i++) {
    const status = i < 150 ? "Finished" : i < 190 ? "Running" : "Failed";
    steps.push({
      node_id: `p${i}`,
      run_id: `r${i}`,
      name: `part-${i}`,
      status,
      queued_time: T + 5000,
      start_time: T + 6000 + i * 10,
      end_time: status === "Running" ? null : T + 9000 + i * 10,
      error: status === "Failed" ? "exit code 1" : "",
    });
  }
  steps.push({ node_id: "sink", name: "sink", status: "NotStarted", queued_time: T, start_time: null, end_time: null });
  return steps;
}

describe("grouping wide layers", () => {
  it("collapses 198 parallel steps into one group, keeping source, sink and the data names", () => {
    const shown = groupGraph(normalizeGraph(fan()));
    expect(shown.nodes.map((n) => n.id)).toEqual(["src", "group:1:0", "sink"]);
    const group = shown.groups.get("group:1:0");
    expect(group.members).toHaveLength(198);
    expect(group.name).toBe("198 parallel steps");
    expect(shown.groupOf.get("p17")).toBe("group:1:0");
    expect(shown.edges).toEqual([
      ["src", "group:1:0", ["root"]],
      ["group:1:0", "sink", Array.from({ length: 198 }, (_, i) => `d_${i}`)],
    ]);
    expect(shown.all).toHaveLength(200); // the search still sees every step
  });

  it("leaves a graph with no layer wider than MAX_LAYER alone (the 50-step graph draws as before)", () => {
    const graph = normalizeGraph(makeGraph(50));
    const shown = groupGraph(graph);
    expect(shown.nodes).toBe(graph.nodes);
    expect(shown.key).toBe(graph.key);
    expect(shown.groups.size).toBe(0);
    expect(Math.max(...[...layers(graph.nodes, graph.edges).values()].reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map()).values())).toBeLessThanOrEqual(MAX_LAYER);
  });

  it("collapses a wide layer of steps that are not parallel into one group per layer", () => {
    // 40 chains of two: no two steps share their neighbours, but layers 1 and 2 are 40 wide
    const nodes = [{ id: "a", name: "a" }];
    const edges = [];
    for (let i = 0; i < 40; i++) {
      nodes.push({ id: `x${i}`, name: `x${i}` }, { id: `y${i}`, name: `y${i}` });
      edges.push(["a", `x${i}`], [`x${i}`, `y${i}`]);
    }
    const shown = groupGraph(normalizeGraph({ nodes, edges }));
    expect(shown.nodes.map((n) => n.id)).toEqual(["a", "group:1:0", "group:2:0"]);
    expect(shown.groups.get("group:1:0").name).toBe("40 steps in layer 2");
    expect(shown.groups.get("group:2:0").name).toBe("40 parallel steps");
    expect(shown.edges).toEqual([
      ["a", "group:1:0"],
      ["group:1:0", "group:2:0"],
    ]);
  });

  it("survives cycles", () => {
    const g = normalizeGraph({ nodes: [{ id: "a" }, { id: "b" }], edges: [["a", "b"], ["b", "a"]] });
    expect(groupGraph(g, { maxLayer: 1 }).nodes.length).toBeGreaterThan(0);
  });

  it("says a group's counts by status, its worst status first", () => {
    const shown = groupGraph(normalizeGraph(fan()));
    const stepMap = stepsByNode(fanSteps());
    const view = groupView(shown.groups.get("group:1:0"), stepMap);
    expect(view.status).toBe("Failed");
    expect(view.counts).toBe("150 finished · 40 running · 8 failed");
    expect(view.aria).toBe("Group of 198 steps · 150 finished · 40 running · 8 failed");
    expect(view.sub).toBe("✔150 ⟳40 ✖8");
    expect(groupStatus(["p0", "p1"], stepMap)).toBe("Finished");
    expect(groupStatus(["p0", "p160"], stepMap)).toBe("Running");
  });
});

describe("step search", () => {
  const nodes = ["train", "pretrain-data", "eval_train", "Train-big", "report"].map((name, i) => ({ id: `n${i}`, name }));
  it("ranks an exact name, then prefixes, then word starts, then substrings", () => {
    expect(matchSteps("train", nodes).map((n) => n.name)).toEqual(["train", "Train-big", "eval_train", "pretrain-data"]);
    expect(matchSteps("REP", nodes)[0].name).toBe("report");
    expect(matchSteps("  ", nodes)).toEqual([]);
    expect(matchSteps("zzz", nodes)).toEqual([]);
    expect(matchSteps("a", nodes, 2)).toHaveLength(2);
  });
});

describe("fit and labels", () => {
  it("fits the whole graph and never zooms in past 100 %", () => {
    expect(fitScale({ availWidth: 1000, availHeight: 480, width: 300, height: 100 })).toBe(1);
    expect(fitScale({ availWidth: 404, availHeight: 480, width: 800, height: 200 })).toBeCloseTo(0.5, 5);
    expect(fitScale({ availWidth: 1004, availHeight: 480, width: 500, height: 952 })).toBeCloseTo(0.5, 5);
    expect(fitScale({ availWidth: 0, availHeight: 480, width: 500, height: 500 })).toBe(1);
  });

  it("labels an edge with its data, shortened, and lists them all in its tooltip", () => {
    expect(edgeLabel(["model"])).toEqual({ text: "model", title: "Data: model" });
    expect(edgeLabel([])).toEqual({ text: "", title: "" });
    const many = edgeLabel(Array.from({ length: 198 }, (_, i) => `d_${i}`));
    expect(many.text).toBe("d_0 +197");
    expect(many.title.startsWith("Data: d_0, d_1")).toBe(true);
    expect(many.title.endsWith("… (198 in all)")).toBe(true);
    expect(edgeLabel(["a-very-long-data-name"]).text).toBe("a-very-long-d…");
  });

  it("puts a label halfway along its edge", () => {
    expect(midPoint([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }])).toEqual({ x: 10, y: 0 });
    expect(midPoint([])).toBeNull();
    const { edges } = layoutGraph(normalizeGraph({ nodes: [{ id: "a" }, { id: "b" }], edges: [["a", "b", ["x"]]] }));
    expect(edges[0].data).toEqual(["x"]);
  });
});

describe("times in tooltips", () => {
  it("shows local clock times, with the date when it is another day", () => {
    expect(clockTime(T, T)).toBe("14:03:07");
    expect(clockTime(T, T + 86_400_000)).toBe("2026-12-02 14:03:07");
    expect(clockTime(null, T)).toBe("");
  });

  it("says when a step was queued, started and ended, and how long it ran", () => {
    const done = { status: "Finished", queued_time: T - 2000, start_time: T, end_time: T + 67_000 };
    expect(stepTimes(done, T + 99_000)).toEqual(["Queued 14:03:05", "Started 14:03:07", "Ended 14:04:14", "Ran 1m 07s"]);
    const running = { status: "Running", queued_time: T, start_time: T, end_time: null };
    expect(stepTimes(running, T + 5000)).toEqual(["Queued 14:03:07", "Started 14:03:07", "Running for 5s"]);
    expect(stepTimes({ status: "Queued", queued_time: T }, T + 5000)).toEqual(["Queued 14:03:07", "Not started yet"]);
  });

  it("shows no time at all for a step that has not started (its null start is no start)", () => {
    const waiting = { status: "NotStarted", queued_time: T, start_time: null, end_time: null };
    expect(stepTimes(waiting, T + 5000)).toEqual(["Not started yet"]);
    const view = nodeView({ id: "a", name: "sink" }, waiting, T + 5000);
    expect(view.duration).toBe("");
    expect(nodeTitle(view, waiting, T + 5000)).toBe("sink\nNot started");
    expect(stepBars(waiting, T + 5000)).toEqual({ queued: null, run: null });
    // the same when the kernel still sends the queue time as its start (before the data fix)
    const old = { ...waiting, start_time: T };
    expect(nodeView({ id: "a", name: "sink" }, old, T + 5000).sub).toBe("Not started");
    expect(stepTimes(old, T + 5000)).toEqual(["Not started yet"]);
    expect(stepBars(old, T + 5000)).toEqual({ queued: null, run: null });
  });
});

describe("a layer split into several parallel groups", () => {
  // src -> a0..a4 -> sinkA and src -> b0..b4 -> sinkB: with at most 6 nodes a layer, layer 1
  // becomes two groups of 5
  function twoFans() {
    const nodes = [{ id: "src", name: "source" }, { id: "sinkA", name: "sinkA" }, { id: "sinkB", name: "sinkB" }];
    const edges = [];
    for (const side of ["a", "b"]) {
      for (let i = 0; i < 5; i++) {
        nodes.push({ id: `${side}${i}`, name: `${side}-${i}` });
        edges.push(["src", `${side}${i}`], [`${side}${i}`, side === "a" ? "sinkA" : "sinkB"]);
      }
    }
    return normalizeGraph({ nodes, edges });
  }

  it("gives each group a test id of its own, the first one the layer's alone", () => {
    const shown = groupGraph(twoFans(), { maxLayer: 6 });
    expect([...shown.groups.keys()]).toEqual(["group:1:0", "group:1:1"]);
    const view = new GraphView();
    view.setGraph(shown);
    const ids = (root, sel) => [...root.querySelectorAll(sel)].map((g) => g.getAttribute("data-testid"));
    expect(ids(view.nodeLayer, ".prw-group").sort()).toEqual(["prw-group-1", "prw-group-1-1"]); // the SVG lists them in layout order
    const tl = createTimeline();
    tl.update(shown.nodes.map((n) => ({ id: n.id, name: n.name, group: n.group })), new Map(), T);
    expect(ids(tl.el, ".prw-tl-group")).toEqual(["prw-timeline-group-1", "prw-timeline-group-1-1"]);
    view.dispose();
  });
});

describe("the group list's CSS", () => {
  // happy-dom lays nothing out: the rule itself is checked
  it("lets a column shrink below 14em in a narrower pane instead of overflowing it", () => {
    // (vitest hands a CSS import over empty, and `URL` here is happy-dom's)
    const css = readFileSync(fileURLToPath(import.meta.resolve("../src/pipeline_widget.css")), "utf8");
    const rule = css.match(/\.prw-group-list\s*\{([^}]*)\}/)[1];
    expect(rule).toContain("grid-template-columns: repeat(auto-fill, minmax(min(14em, 100%), 1fr));");
  });
});

describe("timeline of a 200-step fan-out", () => {
  it("spans a group's steps with one bar pair", () => {
    const steps = fanSteps().slice(1, 199);
    const bars = groupBars(steps, T + 20_000);
    expect(bars.queued).toEqual([T + 5000, T + 6000]);
    expect(bars.run).toEqual([T + 6000, T + 20_000]); // 40 still run: the bar ends now
  });

  it("shows one row per drawn node, a group row unfolds its steps on click", () => {
    const shown = groupGraph(normalizeGraph(fan()));
    const tl = createTimeline();
    const stepMap = stepsByNode(fanSteps());
    tl.update(shown.nodes.map((n) => ({ id: n.id, name: n.name, group: n.group })), stepMap, T + 20_000);
    expect(tl.el.querySelectorAll(".prw-tl-row")).toHaveLength(3);
    const row = byTestId(tl.el, "prw-timeline-group-1");
    expect(row.getAttribute("data-status")).toBe("Failed");
    expect(row.title).toContain("198 steps · 150 finished · 40 running · 8 failed");
    expect(byTestId(tl.el, "prw-timeline-row-sink").querySelector(".prw-tl-run").hidden).toBe(true);
    row.click();
    expect(tl.el.querySelectorAll(".prw-tl-row")).toHaveLength(201);
    expect(byTestId(tl.el, "prw-timeline-row-p3").title).toContain("Started 14:03:13");
    byTestId(tl.el, "prw-timeline-group-1").click();
    expect(tl.el.querySelectorAll(".prw-tl-row")).toHaveLength(3);
  });
  it("says a group's last step ended from the steps' states, whatever the clocks say", () => {
    const shown = groupGraph(normalizeGraph(fan()));
    const rows = shown.nodes.map((n) => ({ id: n.id, name: n.name, group: n.group }));
    const tl = createTimeline();
    const title = () => byTestId(tl.el, "prw-timeline-group-1").title;
    // all ended, the server's clock 10 s ahead of this one: the ends are still "in the future"
    const ended = fanSteps().map((s) => (s.status === "Running" ? { ...s, status: "Finished", end_time: T + 20_000 } : s));
    tl.update(rows, stepsByNode(ended), T + 10_000);
    expect(title()).toContain(`Last ended ${clockTime(T + 20_000, T + 10_000)}`);
    expect(title()).not.toContain("still running");
    tl.update(rows, stepsByNode(fanSteps()), T + 20_000);
    expect(title()).toContain("Last still running");
  });

  it("Enter on a focused group row unfolds it and keeps the focus on the row", () => {
    const shown = groupGraph(normalizeGraph(fan()));
    const tl = createTimeline();
    document.body.append(tl.el);
    tl.update(shown.nodes.map((n) => ({ id: n.id, name: n.name, group: n.group })), stepsByNode(fanSteps()), T + 20_000);
    expect(tl.el.getAttribute("data-lm-suppress-shortcuts")).toBe("true"); // Enter is not the cell's
    const enter = () => {
      const row = byTestId(tl.el, "prw-timeline-group-1");
      row.focus();
      row.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    };
    enter();
    expect(tl.el.querySelectorAll(".prw-tl-row")).toHaveLength(201);
    expect(document.activeElement).toBe(byTestId(tl.el, "prw-timeline-group-1"));
    expect(document.activeElement.getAttribute("aria-expanded")).toBe("true");
    enter();
    expect(tl.el.querySelectorAll(".prw-tl-row")).toHaveLength(3);
    expect(document.activeElement).toBe(byTestId(tl.el, "prw-timeline-group-1"));
    tl.el.remove();
  });
});

describe("PipelineRunWidget at scale", () => {
  let handle;
  afterEach(() => {
    handle?.dispose();
    document.body.textContent = "";
  });

  let clock = T + 20_000;
  function mount() {
    clock = T + 20_000;
    const model = pipelineModel({ graph: fan(), steps: fanSteps() });
    const el = document.createElement("div");
    document.body.append(el);
    handle = renderPipelineWidget({ model, el, host: undefined, now: () => clock });
    return { model, el };
  }

  it("draws source, a group node with counts and sink; the legend; the data on the edges", () => {
    const { el } = mount();
    expect(el.querySelectorAll(".prw-node").length).toBe(3);
    const group = byTestId(el, "prw-group-1");
    expect(group.getAttribute("aria-label")).toBe("Group of 198 steps · 150 finished · 40 running · 8 failed");
    expect(group.querySelectorAll(".prw-group-seg")).toHaveLength(3);
    expect([...el.querySelectorAll("[data-testid='prw-edge-label']")].map((l) => l.lastChild.textContent)).toEqual([
      "root",
      "d_0 +197",
    ]);
    const legend = byTestId(el, "prw-legend");
    expect(legend.textContent).toContain("Not started");
    expect(legend.textContent).toContain("Queued");
    expect(legend.textContent).toContain("Group");
    expect(legend.querySelector("[data-status='Queued']").title).toBe(LEGEND[1].text);
    expect(byTestId(el, "prw-node-src").querySelector("title").textContent).toBe(
      "source\nFinished · 4s\nQueued 14:03:07\nStarted 14:03:08\nEnded 14:03:12\nRan 4s",
    );
  });

  it("highlights the data labels of the selected step's edges, as the edges", () => {
    const { el, model } = mount();
    const active = () => [...el.querySelectorAll(".prw-edge-label-active")].map((l) => l.lastChild.textContent);
    expect(active()).toEqual([]);
    model.set("selected", "src");
    expect(active()).toEqual(["root"]);
    model.set("selected", "p5"); // in the group: the group's edges
    expect(active()).toEqual(["root", "d_0 +197"]);
    model.set("selected", "");
    expect(active()).toEqual([]);
  });

  it("lists a group's steps on click, worst first, and a listed step selects it", () => {
    const { el, model } = mount();
    const group = byTestId(el, "prw-group-1");
    group.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    const panel = byTestId(el, "prw-group-panel");
    expect(panel.hidden).toBe(false);
    expect(group.getAttribute("aria-expanded")).toBe("true");
    expect(panel.textContent).toContain("198 parallel steps: 150 finished · 40 running · 8 failed");
    const items = panel.querySelectorAll(".prw-group-step");
    expect(items).toHaveLength(198);
    expect(items[0].textContent).toContain("part-190"); // a failed one first
    // the clock ticks: running steps' durations change in place, the list is not rebuilt
    const running = byTestId(el, "prw-group-step-p160");
    const before = running.textContent;
    clock += 5000;
    handle.tick();
    expect(byTestId(el, "prw-group-step-p160")).toBe(running);
    expect(running.textContent).not.toBe(before);
    byTestId(el, "prw-group-step-p5").click();
    expect(model.get("selected")).toBe("p5");
    expect(group.classList.contains("prw-selected")).toBe(true);
  });

  it("a reordered group list keeps the focused step, in a shadow root too (marimo)", () => {
    const host = document.body.appendChild(document.createElement("div"));
    const shadow = host.attachShadow({ mode: "open" });
    const el = shadow.appendChild(document.createElement("div"));
    const model = pipelineModel({ graph: fan(), steps: fanSteps() });
    handle = renderPipelineWidget({ model, el, now: () => clock });
    byTestId(el, "prw-group-1").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    const before = byTestId(el, "prw-group-step-p5");
    before.focus();
    expect(shadow.activeElement).toBe(before);
    // p5 fails: it moves to the top, the list is rebuilt
    model.set("steps", fanSteps().map((s) => (s.node_id === "p5" ? { ...s, status: "Failed" } : s)));
    const after = byTestId(el, "prw-group-step-p5");
    expect(after).not.toBe(before);
    expect(el.querySelector(".prw-group-step")).toBe(after);
    expect(shadow.activeElement).toBe(after);
  });

  it("finds a step by name: Enter selects it, opens its group and marks it", () => {
    const { el, model } = mount();
    const input = byTestId(el, "prw-search");
    expect(el.querySelectorAll("datalist option")).toHaveLength(200);
    input.value = "part-42";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.get("selected")).toBe("p42");
    expect(byTestId(el, "prw-group-panel").hidden).toBe(false);
    expect(byTestId(el, "prw-group-step-p42").classList.contains("prw-group-step-on")).toBe(true);
    input.value = "sink";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.get("selected")).toBe("sink");
    input.value = "nothing-like-it";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.get("selected")).toBe("sink");
    expect(el.querySelector(".prw-search-note").textContent).toBe("No step matches");
  });

  it("turns a small graph top to bottom in a narrow pane, and back when it widens", () => {
    const view = new GraphView();
    let width = 330;
    Object.defineProperty(view.scroller, "clientWidth", { configurable: true, get: () => width });
    view.setGraph(groupGraph(normalizeGraph(fan())));
    expect(view.rankdir).toBe("TB");
    const p = view.layout.positions;
    expect(p.get("src").y).toBeLessThan(p.get("group:1:0").y);
    view.fit();
    expect(view.scale).toBe(1); // three nodes stacked fit 330 px at full size
    width = 1200;
    view._relayoutForWidth();
    expect(view.rankdir).toBe("LR");
    expect(view.nodeLayer.querySelectorAll(".prw-node")).toHaveLength(3);
    // a big graph stays left to right whatever the width
    const big = new GraphView();
    Object.defineProperty(big.scroller, "clientWidth", { configurable: true, get: () => 330 });
    big.setGraph(normalizeGraph(makeGraph(50)));
    expect(big.rankdir).toBe("LR");
    view.dispose();
    big.dispose();
  });

  it("a relayout keeps an open group's aria-expanded and the focused node", () => {
    const view = new GraphView();
    document.body.append(view.el);
    let width = 1200;
    Object.defineProperty(view.scroller, "clientWidth", { configurable: true, get: () => width });
    view.setGraph(groupGraph(normalizeGraph(fan())));
    const group = () => view.nodeLayer.querySelector('[data-node-id="group:1:0"]');
    group().focus();
    group().dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(view.groupPanel.hidden).toBe(false);
    expect(group().getAttribute("aria-expanded")).toBe("true");
    width = 330; // narrower: the graph turns top to bottom, every node is drawn anew
    view._relayoutForWidth();
    expect(view.rankdir).toBe("TB");
    expect(view.groupPanel.hidden).toBe(false);
    expect(group().getAttribute("aria-expanded")).toBe("true");
    expect(document.activeElement).toBe(group());
    // a new graph that still has the group (a step renamed)
    const renamed = fan();
    renamed.nodes[0].name = "source-2";
    view.setGraph(groupGraph(normalizeGraph(renamed)));
    expect(group().getAttribute("aria-expanded")).toBe("true");
    expect(document.activeElement).toBe(group());
    view.dispose();
    view.el.remove();
  });

  it("Fit shows the whole graph at 100 % at most", () => {
    const view = new GraphView();
    Object.defineProperty(view.scroller, "clientWidth", { configurable: true, get: () => 1200 });
    view.setGraph(groupGraph(normalizeGraph(fan())));
    view.fit();
    expect(view.scale).toBe(1);
    expect(view.layout.height).toBeLessThan(GRAPH_MAX_H);
    view.dispose();
  });
});
