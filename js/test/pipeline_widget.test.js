import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import widget, { renderPipelineWidget } from "../src/pipeline_widget.js";
import { byTestId, makeGraph, makeSteps, pipelineModel, settle, visibleLines } from "./fake-model.js";


const XSS = "<img src=x onerror=alert(1)>";
const T = 1_700_000_000_000;
let mounted = [];

function mount(state = {}) {
  const model = pipelineModel(state);
  const el = document.createElement("div");
  document.body.append(el);
  const handle = renderPipelineWidget({ model, el });
  mounted.push(handle);
  const get = (id) => byTestId(el, id);
  const node = (id) => get(`prw-node-${id}`);
  return { model, el, handle, get, node };
}

// A small pipeline: prep -> train -> eval, prep -> report
function small(over = {}) {
  const graph = {
    nodes: [
      { id: "n1", name: "prep" },
      { id: "n2", name: "train" },
      { id: "n3", name: "eval" },
      { id: "n4", name: "report" },
    ],
    edges: [
      ["n1", "n2"],
      ["n2", "n3"],
      ["n1", "n4"],
    ],
  };
  return { graph, steps: makeSteps(graph, over) };
}

const keydown = (el, key) => el.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));

beforeEach(() => {
  mounted = [];
});

afterEach(() => {
  for (const h of mounted) h.dispose();
  document.body.textContent = "";
  vi.useRealTimers();
});

describe("PipelineRunWidget", () => {
  it("renders through anywidget's render() and cleans up listeners, timers and DOM", () => {
    vi.useFakeTimers();
    vi.setSystemTime(T);
    const { graph, steps } = small({ n1: { status: "Running", start_time: T - 3000 } });
    const model = pipelineModel({ graph, steps, start_time: T - 5000 });
    const el = document.createElement("div");
    const cleanup = widget.render({ model, el });
    expect(typeof cleanup).toBe("function");
    expect(el.querySelector(".prw-root")).not.toBeNull();
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(el.querySelector(".prw-root")).toBeNull();
  });

  it("draws every node and edge of a 50-step graph, with test hooks", () => {
    const graph = makeGraph(50);
    const { get, node, el } = mount({ graph, steps: makeSteps(graph) });
    const svg = get("prw-graph");
    expect(svg.namespaceURI).toBe("http://www.w3.org/2000/svg");
    expect(svg.tagName.toLowerCase()).toBe("svg");
    for (let i = 0; i < 50; i++) {
      const g = node(`s${i}`);
      expect(g).not.toBeNull();
      expect(g.getAttribute("data-status")).toBe("NotStarted");
      expect(g.getAttribute("transform")).toMatch(/^translate\(\d/);
    }
    expect(svg.querySelectorAll(".prw-edge")).toHaveLength(graph.edges.length);
    for (const path of svg.querySelectorAll(".prw-edge")) {
      expect(path.getAttribute("marker-end")).toMatch(/^url\(#prw-.*-arrow\)$/);
      expect(path.getAttribute("d")).not.toMatch(/NaN/);
    }
    expect(svg.querySelector("marker")).not.toBeNull();
    for (const id of ["prw-status", "prw-summary", "prw-timeline", "prw-detail", "prw-error", "prw-connection"]) {
      expect(get(id), id).not.toBeNull();
    }
    expect(el.querySelectorAll(".prw-tl-row")).toHaveLength(50);
  });

  it("updates node status, colour and text in place, without a new layout", () => {
    const { graph, steps } = small();
    const { model, handle, node } = mount({ graph, steps });
    expect(handle.graphView.layoutCount).toBe(1);
    const before = node("n2");
    expect(before.getAttribute("class")).toContain("prw-tone-muted");
    model.set(
      "steps",
      makeSteps(graph, { n1: { status: "Finished", start_time: T, end_time: T + 65000 }, n2: { status: "Running", start_time: T } }),
    );
    model.set("steps", makeSteps(graph, { n1: { status: "Finished", start_time: T, end_time: T + 65000 }, n2: { status: "Failed", start_time: T, end_time: T + 1000, error: "boom" } }));
    expect(handle.graphView.layoutCount).toBe(1);
    expect(node("n2")).toBe(before); // the same element, repainted
    expect(before.getAttribute("data-status")).toBe("Failed");
    expect(before.getAttribute("class")).toContain("prw-tone-error");
    expect(before.querySelector(".prw-node-icon").textContent).toBe("✖");
    expect(before.querySelector(".prw-node-sub").textContent).toBe("Failed · 1s");
    expect(before.querySelector("title").textContent).toContain("boom");
    expect(node("n1").querySelector(".prw-node-sub").textContent).toBe("Finished · 1m 05s");
    expect(node("n1").getAttribute("aria-label")).toBe("prep: Finished, 1m 05s");
    // an equal graph set again: still no layout; a changed graph: one more
    model.set("graph", structuredClone(graph));
    expect(handle.graphView.layoutCount).toBe(1);
    model.set("graph", { ...graph, nodes: [...graph.nodes, { id: "n5", name: "publish" }] });
    expect(handle.graphView.layoutCount).toBe(2);
    expect(node("n5")).not.toBeNull();
    expect(node("n2").getAttribute("data-status")).toBe("Failed"); // repainted after the relayout
  });

  it("ticks the duration of a running step and grows its timeline bar", () => {
    vi.useFakeTimers();
    vi.setSystemTime(T);
    const { graph, steps } = small({
      n1: { status: "Finished", queued_time: T - 20000, start_time: T - 19000, end_time: T - 10000 },
      n2: { status: "Running", queued_time: T - 10000, start_time: T - 8000 },
    });
    const { model, node, handle } = mount({ graph, steps });
    const sub = node("n2").querySelector(".prw-node-sub");
    expect(sub.textContent).toBe("Running · 8s");
    const bar = handle.timeline.rows.get("n2").run;
    const width0 = parseFloat(bar.style.width);
    vi.advanceTimersByTime(3000);
    expect(sub.textContent).toBe("Running · 11s");
    expect(parseFloat(bar.style.width)).toBeGreaterThan(width0);
    expect(handle.graphView.layoutCount).toBe(1);
    // once nothing runs, the clock stops
    model.set("steps", makeSteps(graph, { n2: { status: "Finished", start_time: T - 8000, end_time: T } }));
    expect(vi.getTimerCount()).toBe(0);
  });

  it("shows the summary counts, the pipeline's badge, elapsed time, error and connection lines", () => {
    vi.useFakeTimers();
    vi.setSystemTime(T);
    const graph = makeGraph(6);
    const steps = makeSteps(graph, {
      s0: { status: "Finished" },
      s1: { status: "Finished", reused: true, reused_run_id: "orig-1" },
      s2: { status: "Finished" },
      s3: { status: "Running", start_time: T },
      s4: { status: "Queued", queued_time: T },
      s5: { status: "Queued", queued_time: T },
    });
    const { model, get, el } = mount({ graph, steps, status: "Running", start_time: T - 65000 });
    expect(get("prw-summary").textContent).toBe("3 Finished · 1 Running · 2 Queued");
    expect(el.querySelector(".prw-summary-reused").textContent).toBe("♻ 1 reused");
    expect(get("prw-status").textContent).toBe("Running");
    expect(get("prw-status").getAttribute("role")).toBe("status");
    expect(get("prw-status").getAttribute("aria-live")).toBe("polite");
    expect(get("prw-elapsed").textContent).toBe("1m 05s");
    expect(get("prw-error").hidden).toBe(true);
    expect(get("prw-connection").hidden).toBe(true);
    model.set("status", "Failed");
    model.set("end_time", T);
    model.set("error", "step s3 failed");
    model.set("connection_detail", "connection refused");
    model.set("connection", "reconnecting");
    expect(get("prw-status").textContent).toBe("Failed");
    expect(get("prw-error").textContent).toBe("step s3 failed");
    expect(get("prw-error").hidden).toBe(false);
    expect(get("prw-connection").textContent).toBe("reconnecting… — connection refused");
    model.set("steps", makeSteps(graph, { s0: { status: "Failed" } }));
    expect(get("prw-summary").textContent).toBe("1 Failed · 5 Not started");
    expect(el.querySelector(".prw-summary-reused").hidden).toBe(true);
    model.set("steps", []);
    model.set("graph", { nodes: [], edges: [] });
    expect(get("prw-summary").textContent).toBe("No steps");
  });

  it("marks reused steps", () => {
    const { graph, steps } = small({ n1: { status: "Finished", reused: true, reused_run_id: "orig-7" } });
    const { node } = mount({ graph, steps });
    const g = node("n1");
    expect(g.getAttribute("class")).toContain("prw-reused");
    expect(g.querySelector(".prw-node-reuse").getAttribute("display")).toBe("inline");
    expect(g.querySelector("title").textContent).toContain("Reused results of run orig-7");
    expect(node("n2").querySelector(".prw-node-reuse").getAttribute("display")).toBe("none");
  });

  it("says on each node's tooltip why the step ran or was reused", () => {
    const why = "reused run orig-7… of pipeline p0…: same code, arguments and inputs";
    const { graph, steps } = small({
      n1: { status: "Finished", reused: true, reused_run_id: "orig-7", why },
      n2: { status: "Running", why: "ran: train.py changed (3 lines) since run orig-8…" },
    });
    const { node } = mount({ graph, steps });
    expect(node("n1").querySelector("title").textContent).toContain(`Why: ${why}`);
    expect(node("n2").querySelector("title").textContent).toContain("Why: ran: train.py changed (3 lines)");
  });

  it("makes nodes keyboard reachable buttons named by step and status", () => {
    const { graph, steps } = small({ n2: { status: "Queued", queued_time: T } });
    const { node } = mount({ graph, steps });
    const g = node("n2");
    expect(g.getAttribute("tabindex")).toBe("0");
    expect(g.getAttribute("role")).toBe("button");
    expect(g.getAttribute("aria-label")).toBe("train: Queued");
    expect(g.getAttribute("aria-pressed")).toBe("false");
  });

  it("selects a node on click, Enter and Space, saves it and highlights it", () => {
    const { graph, steps } = small();
    const { model, node, handle } = mount({ graph, steps });
    node("n2").querySelector(".prw-node-name").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.get("selected")).toBe("n2");
    expect(model.saved).toBe(1);
    expect(node("n2").getAttribute("class")).toContain("prw-selected");
    expect(node("n2").getAttribute("aria-pressed")).toBe("true");
    const active = handle.graphView.svg.querySelectorAll(".prw-edge-active");
    expect([...active].map((p) => `${p.getAttribute("data-from")}>${p.getAttribute("data-to")}`).sort()).toEqual([
      "n1>n2",
      "n2>n3",
    ]);
    keydown(node("n3"), "Enter");
    expect(model.get("selected")).toBe("n3");
    expect(model.saved).toBe(2);
    expect(node("n2").getAttribute("class")).not.toContain("prw-selected");
    keydown(node("n4"), " ");
    expect(model.get("selected")).toBe("n4");
    expect(model.saved).toBe(3);
    keydown(node("n1"), "a");
    expect(model.get("selected")).toBe("n4");
    // a click on a timeline row selects too; the close button clears the selection
    handle.timeline.rows.get("n1").el.click();
    expect(model.get("selected")).toBe("n1");
    byTestId(handle.root, "prw-detail-close").click();
    expect(model.get("selected")).toBe("");
    expect(model.saved).toBe(5);
  });

  it("mounts the selected step's view on the pipeline's own model once the kernel sends its pane", () => {
    const { graph, steps } = small({ n2: { status: "Running", start_time: T } });
    const { model, node, get, handle } = mount({ graph, steps });
    const detail = get("prw-detail");
    expect(detail.textContent).toContain("Select a step");
    node("n2").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(detail.textContent).toContain("Opening the step view");
    expect(byTestId(detail, "prw-detail-name").textContent).toBe("train");
    // the kernel answers with the step's state (pane + its saved log tail in pane_logs)
    model.setMany({
      pane: { node_id: "n2", run_id: "run-n2", name: "train", status: "Running", start_time: T, outputs: [] },
      pane_logs: { node_id: "n2", logs: { stdout: { tail: "epoch 1\n", first_line: 0, total_bytes: 8, seq: 1 } }, metrics: {} },
    });
    expect(detail.querySelectorAll(".srw-root")).toHaveLength(1);
    handle.stepView.flush();
    expect(visibleLines(detail)).toEqual(["epoch 1"]);
    // the view's messages go on the pipeline model, marked with the node
    expect(model.sent).toContainEqual({ type: "sync", pane: "n2" });
    // live text for this node continues the log; a message of another node is not shown
    model.emit({ type: "log", stream: "stdout", text: "epoch 2\n", seq: 2, pane: "n2" });
    model.emit({ type: "log", stream: "stdout", text: "other step\n", seq: 3, pane: "n3" });
    model.emit({ type: "log", stream: "stdout", text: "unmarked\n", seq: 3 });
    handle.stepView.flush();
    expect(visibleLines(detail)).toEqual(["epoch 1", "epoch 2"]);
    // a status change of the pane reaches the step view's badge
    model.set("pane", { ...model.get("pane"), status: "Finished", end_time: T + 9000 });
    expect(byTestId(detail, "srw-status").textContent).toBe("Finished");
  });

  it("clears the pane at once when another node is selected, until the kernel answers", () => {
    const { graph, steps } = small();
    const { model, node, get } = mount({ graph, steps });
    node("n1").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    model.set("pane", { node_id: "n1", name: "prep", status: "Finished" });
    expect(get("prw-detail").querySelectorAll(".srw-root")).toHaveLength(1);
    node("n3").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    // the pane still holds n1's state: it is not shown for n3
    expect(get("prw-detail").querySelector(".srw-root")).toBeNull();
    expect(get("prw-detail").textContent).toContain("Opening the step view");
    model.set("pane", { node_id: "n3", name: "eval", status: "Queued" });
    expect(byTestId(get("prw-detail"), "srw-name").textContent).toBe("eval");
    // deselecting removes it
    model.set("selected", "");
    expect(get("prw-detail").querySelector(".srw-root")).toBeNull();
    expect(get("prw-detail").textContent).toContain("Select a step");
  });

  it("shows a pane that arrives in the same update as the selection, whatever the event order", () => {
    const { graph, steps } = small();
    for (const order of [
      { selected: "n2", pane: { node_id: "n2", name: "train" } },
      { pane: { node_id: "n2", name: "train" }, selected: "n2" },
    ]) {
      const { model, get } = mount({ graph, steps, selected: "n1", pane: { node_id: "n1", name: "prep" } });
      expect(byTestId(get("prw-detail"), "srw-name").textContent).toBe("prep");
      model.setMany(order);
      expect(get("prw-detail").querySelectorAll(".srw-root")).toHaveLength(1);
      expect(byTestId(get("prw-detail"), "srw-name").textContent).toBe("train");
    }
  });

  it("says a step without a run has none yet", () => {
    const { graph, steps } = small({ n1: { run_id: "" } });
    const { node, get } = mount({ graph, steps });
    node("n1").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(get("prw-detail").textContent).toContain("This step has no run yet");
  });

  it("renders the saved selection at once (a reopened notebook)", () => {
    const { graph, steps } = small();
    const { node, get } = mount({ graph, steps, selected: "n3", pane: { node_id: "n3", name: "eval", status: "Finished" } });
    expect(byTestId(get("prw-detail"), "srw-name").textContent).toBe("eval");
    expect(node("n3").getAttribute("aria-pressed")).toBe("true");
  });

  it("renders hostile names and errors as text", async () => {
    const graph = { nodes: [{ id: "x1", name: XSS }, { id: "x2", name: "ok" }], edges: [["x1", "x2"]] };
    const steps = makeSteps(graph, { x1: { status: "Failed", error: XSS, name: XSS, run_id: XSS, reused: true, reused_run_id: XSS } });
    const { el, node, model, get } = mount({ graph, steps, name: XSS, error: XSS, run_id: XSS });
    model.set("connection_detail", XSS);
    model.set("connection", "reconnecting");
    model.set("selected", "x1");
    await settle();
    expect(el.querySelector("img")).toBeNull();
    expect(node("x1").querySelector("title").textContent).toContain(XSS);
    expect(node("x1").querySelector(".prw-node-name").textContent).toBe("<img src=x onerror=…");
    expect(get("prw-error").textContent).toBe(XSS);
    expect(get("prw-connection").textContent).toContain(XSS);
    expect(el.querySelector(".prw-tl-label").textContent).toBe(XSS);
    expect(get("prw-detail").textContent).toContain(XSS);
    // attribute values (title, aria-label) hold the text as it is; no element was made of it
    expect(el.getElementsByTagName("img")).toHaveLength(0);
    expect([...el.querySelectorAll("*")].some((e) => e.hasAttribute("onerror"))).toBe(false);
  });

  it("tolerates missing and malformed traits", () => {
    const { get, model } = mount({ graph: null, steps: null, status: "", name: "" });
    expect(get("prw-status").textContent).toBe("Unknown");
    expect(get("prw-summary").textContent).toBe("No steps");
    model.set("steps", [null, 5, { node_id: "ghost", status: "Running", start_time: T }]);
    expect(get("prw-summary").textContent).toBe("1 Running");
    model.set("graph", { nodes: "nope", edges: 3 });
    expect(get("prw-graph")).not.toBeNull();
  });
});
