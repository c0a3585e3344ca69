import { afterEach, describe, expect, it, vi } from "vitest";
import { ANSWER_TIMEOUT_MS, createCancelControl, CANCEL_REQUESTED, NO_ANSWER } from "../src/cancel.js";
import { renderStepWidget } from "../src/step_widget.js";
import { renderPipelineWidget } from "../src/pipeline_widget.js";
import { FakeModel, byTestId, makeSteps, pipelineModel } from "./fake-model.js";

const XSS = "<img src=x onerror=alert(1)>";
let cleanups = [];
afterEach(() => {
  for (const fn of cleanups) fn();
  cleanups = [];
  document.body.textContent = "";
});

function control() {
  const sent = [];
  const c = createCancelControl({ send: (m) => sent.push(m), prefix: "t", kind: "step run" });
  const el = document.createElement("div");
  el.append(c.button, c.panel);
  document.body.append(el);
  const get = (id) => byTestId(el, `t-${id}`);
  return { c, sent, el, get };
}

describe("the Cancel control", () => {
  it("offers Cancel only on a live view of a run that has not ended", () => {
    const { c, get } = control();
    c.update({ status: "Running", name: "fit" });
    expect(get("run-cancel").hidden).toBe(true); // not live yet: a saved notebook without a kernel
    c.setLive(true);
    expect(get("run-cancel").hidden).toBe(false);
    for (const status of ["Finished", "Failed", "Canceled"]) {
      c.update({ status, name: "fit" });
      expect(get("run-cancel").hidden, status).toBe(true);
    }
    c.update({ status: "Queued", name: "fit" });
    expect(get("run-cancel").hidden).toBe(false);
  });

  it("asks inline, then sends cancel and says the request went out", () => {
    const { c, sent, get } = control();
    c.setLive(true);
    c.update({ status: "Running", name: XSS });
    get("run-cancel").click();
    expect(get("run-cancel-box").hidden).toBe(false);
    expect(get("run-cancel").hidden).toBe(true);
    expect(get("run-cancel-question").textContent).toBe(`Cancel run ${XSS}?`);
    expect(document.querySelector("img")).toBeNull();
    expect(get("run-cancel-confirm").textContent).toBe("Cancel run");
    expect(get("run-cancel-keep").textContent).toBe("Keep running");
    expect(document.activeElement).toBe(get("run-cancel-keep")); // the safe choice has the focus
    expect(sent).toEqual([]);
    get("run-cancel-confirm").click();
    expect(sent).toHaveLength(1);
    expect(sent[0].type).toBe("cancel");
    expect(typeof sent[0].request_id).toBe("string");
    expect(get("run-cancel-box").hidden).toBe(true);
    expect(get("run-cancel-note").textContent).toBe(CANCEL_REQUESTED);
    expect(get("run-cancel").disabled).toBe(true);
    c.handle({ type: "cancel_done", status: "Canceled", request_id: sent[0].request_id });
    expect(get("run-cancel-note").textContent).toBe("Canceled at your request");
    c.update({ status: "Canceled", name: "fit" });
    expect(get("run-cancel").hidden).toBe(true);
  });

  it("names its button after the run and its question group after the question", () => {
    const { c, get } = control();
    c.setLive(true);
    c.update({ status: "Running", name: XSS });
    expect(get("run-cancel").getAttribute("aria-label")).toBe(`Cancel step run ${XSS}`);
    c.update({ status: "Running", name: "fit" });
    expect(get("run-cancel").getAttribute("aria-label")).toBe("Cancel step run fit");
    const box = get("run-cancel-box");
    const labelledBy = box.getAttribute("aria-labelledby");
    expect(labelledBy).toBeTruthy();
    expect(document.getElementById(labelledBy)).toBe(get("run-cancel-question"));
    expect(control().get("run-cancel-box").getAttribute("aria-labelledby")).not.toBe(labelledBy);
  });

  it("Keep running and Escape close the question without sending", () => {
    const { c, sent, get } = control();
    c.setLive(true);
    c.update({ status: "Running", name: "fit" });
    get("run-cancel").click();
    get("run-cancel-keep").click();
    expect(get("run-cancel-box").hidden).toBe(true);
    expect(document.activeElement).toBe(get("run-cancel"));
    get("run-cancel").click();
    get("run-cancel-box").dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(get("run-cancel-box").hidden).toBe(true);
    expect(sent).toEqual([]);
  });

  it("shows why a cancel failed, as text, and offers the button again", () => {
    const { c, sent, get } = control();
    c.setLive(true);
    c.update({ status: "Running", name: "fit" });
    get("run-cancel").click();
    get("run-cancel-confirm").click();
    c.handle({ type: "cancel_error", message: `Cancel failed: 403 ${XSS}`, request_id: sent[0].request_id });
    expect(get("run-cancel-note").textContent).toBe(`Cancel failed: 403 ${XSS}`);
    expect(get("run-cancel-note").getAttribute("role")).toBe("alert");
    expect(document.querySelector("img")).toBeNull();
    expect(get("run-cancel").hidden).toBe(false);
    expect(get("run-cancel").disabled).toBe(false);
  });

  it("heeds only the answers to its own request (every view of the model gets them)", () => {
    const one = control();
    const two = control();
    for (const { c } of [one, two]) {
      c.setLive(true);
      c.update({ status: "Running", name: "fit" });
    }
    one.get("run-cancel").click();
    one.get("run-cancel-confirm").click();
    const { request_id } = one.sent[0];
    for (const { c } of [one, two]) c.handle({ type: "cancel_started", request_id });
    expect(two.get("run-cancel-note").hidden).toBe(true); // the other view asked nothing
    for (const { c } of [one, two]) c.handle({ type: "cancel_done", status: "Canceled", request_id });
    expect(one.get("run-cancel-note").textContent).toBe("Canceled at your request");
    expect(two.get("run-cancel-note").textContent).toBe("");
    expect(two.get("run-cancel-note").hidden).toBe(true);
    // a late answer to another request does not end this view's own one
    two.get("run-cancel").click();
    two.get("run-cancel-confirm").click();
    two.c.handle({ type: "cancel_error", message: "late: no permission", request_id });
    expect(two.get("run-cancel-note").textContent).toBe(CANCEL_REQUESTED);
    expect(two.get("run-cancel").disabled).toBe(true);
    two.c.handle({ type: "cancel_error", message: "no permission", request_id: two.sent[0].request_id });
    expect(two.get("run-cancel-note").textContent).toBe("no permission");
    expect(two.get("run-cancel").disabled).toBe(false);
  });

  it("gives up on a request the kernel never answers, and offers the button again", () => {
    vi.useFakeTimers();
    try {
      const { c, sent, get } = control();
      c.setLive(true);
      c.update({ status: "Running", name: "fit" });
      get("run-cancel").click();
      get("run-cancel-confirm").click();
      c.handle({ type: "cancel_started", request_id: sent[0].request_id });
      vi.advanceTimersByTime(ANSWER_TIMEOUT_MS - 1);
      expect(get("run-cancel-note").textContent).toBe(CANCEL_REQUESTED);
      expect(get("run-cancel").disabled).toBe(true);
      vi.advanceTimersByTime(1);
      expect(get("run-cancel-note").textContent).toBe(NO_ANSWER);
      expect(get("run-cancel").disabled).toBe(false);
      c.handle({ type: "cancel_done", status: "Running", request_id: sent[0].request_id }); // too late
      expect(get("run-cancel-note").textContent).toBe(NO_ANSWER);
      // an answer in time stops the clock
      get("run-cancel").click();
      get("run-cancel-confirm").click();
      c.handle({ type: "cancel_done", status: "Canceled", request_id: sent[1].request_id });
      vi.advanceTimersByTime(ANSWER_TIMEOUT_MS);
      expect(get("run-cancel-note").textContent).toBe("Canceled at your request");
    } finally {
      vi.useRealTimers();
    }
  });

  it("goes when the view is no longer live, a request in flight included", () => {
    const { c, get } = control();
    c.setLive(true);
    c.update({ status: "Running", name: "fit" });
    get("run-cancel").click();
    get("run-cancel-confirm").click();
    c.setLive(false);
    expect(get("run-cancel").hidden).toBe(true);
    expect(get("run-cancel-note").textContent).toBe(NO_ANSWER);
    c.setLive(true);
    expect(get("run-cancel").disabled).toBe(false);
  });

  it("the question goes away when the run ends meanwhile", () => {
    const { c, get } = control();
    c.setLive(true);
    c.update({ status: "Running", name: "fit" });
    get("run-cancel").click();
    c.update({ status: "Finished", name: "fit" });
    expect(get("run-cancel-box").hidden).toBe(true);
    expect(get("run-cancel").hidden).toBe(true);
  });
});

describe("Cancel in the widgets", () => {
  it("a step widget offers it once the kernel answered its sync, and routes the answers", () => {
    const model = new FakeModel({ status: "Running", name: "fit" });
    const el = document.createElement("div");
    document.body.append(el);
    const handle = renderStepWidget({ model, el });
    cleanups.push(() => handle.dispose());
    expect(model.sent).toContainEqual({ type: "sync" });
    expect(byTestId(el, "srw-run-cancel").hidden).toBe(true);
    model.emit({ type: "sync_done" });
    expect(byTestId(el, "srw-run-cancel").hidden).toBe(false);
    byTestId(el, "srw-run-cancel").click();
    byTestId(el, "srw-run-cancel-confirm").click();
    expect(model.sent.at(-1).type).toBe("cancel");
    const { request_id } = model.sent.at(-1);
    model.emit({ type: "cancel_error", message: "The step run 'r1' already ended (Finished): nothing to cancel", request_id });
    expect(byTestId(el, "srw-run-cancel-note").textContent).toContain("already ended");
  });

  it("the views drop their Cancel buttons when the loader says the kernel is gone", () => {
    const step = new FakeModel({ status: "Running", name: "fit" });
    const stepEl = document.body.appendChild(document.createElement("div"));
    const stepHandle = renderStepWidget({ model: step, el: stepEl });
    cleanups.push(() => stepHandle.dispose());
    step.emit({ type: "sync_done" });
    expect(byTestId(stepEl, "srw-run-cancel").hidden).toBe(false);
    stepEl.dispatchEvent(new CustomEvent("srw-not-live"));
    expect(byTestId(stepEl, "srw-run-cancel").hidden).toBe(true);

    const graph = { nodes: [{ id: "n1", name: "prep" }], edges: [] };
    const model = pipelineModel({ graph, steps: makeSteps(graph, { n1: { status: "Running" } }), name: "pipe" });
    const el = document.body.appendChild(document.createElement("div"));
    const handle = renderPipelineWidget({ model, el });
    cleanups.push(() => handle.dispose());
    model.emit({ type: "sync_done" });
    model.setMany({ selected: "n1", pane: { node_id: "n1", name: "prep", status: "Running" } });
    model.emit({ type: "sync_done", pane: "n1" });
    const pane = byTestId(el, "prw-detail");
    expect(byTestId(el, "prw-run-cancel").hidden).toBe(false);
    expect(byTestId(pane, "srw-run-cancel").hidden).toBe(false);
    el.dispatchEvent(new CustomEvent("srw-not-live"));
    expect(byTestId(el, "prw-run-cancel").hidden).toBe(true);
    expect(byTestId(pane, "srw-run-cancel").hidden).toBe(true);
  });

  it("the pipeline header has its own; the pane's step view has the step's", () => {
    const graph = { nodes: [{ id: "n1", name: "prep" }], edges: [] };
    const model = pipelineModel({ graph, steps: makeSteps(graph, { n1: { status: "Running" } }), name: "pipe" });
    const el = document.createElement("div");
    document.body.append(el);
    const handle = renderPipelineWidget({ model, el });
    cleanups.push(() => handle.dispose());
    expect(model.sent).toContainEqual({ type: "sync" });
    model.emit({ type: "sync_done" });
    expect(byTestId(el, "prw-run-cancel").hidden).toBe(false);
    byTestId(el, "prw-run-cancel").click();
    expect(byTestId(el, "prw-run-cancel-question").textContent).toBe("Cancel run pipe?");
    byTestId(el, "prw-run-cancel-confirm").click();
    expect(model.sent.at(-1)).toMatchObject({ type: "cancel" });
    expect(model.sent.at(-1).pane).toBeUndefined();
    const pipelineRequest = model.sent.at(-1).request_id;
    // the step pane: its view's cancel goes marked with the node; its answers come back marked
    model.setMany({ selected: "n1", pane: { node_id: "n1", name: "prep", status: "Running" } });
    model.emit({ type: "sync_done", pane: "n1" });
    const pane = byTestId(el, "prw-detail");
    // two Cancel buttons now: each has a name of its own
    expect(byTestId(el, "prw-run-cancel").getAttribute("aria-label")).toBe("Cancel pipeline run pipe");
    expect(byTestId(pane, "srw-run-cancel").getAttribute("aria-label")).toBe("Cancel step run prep");
    byTestId(pane, "srw-run-cancel").click();
    expect(byTestId(pane, "srw-run-cancel-question").textContent).toBe("Cancel run prep?");
    byTestId(pane, "srw-run-cancel-confirm").click();
    expect(model.sent.at(-1)).toMatchObject({ type: "cancel", pane: "n1" });
    model.emit({ type: "cancel_started", pane: "n1", request_id: model.sent.at(-1).request_id });
    expect(byTestId(pane, "srw-run-cancel-note").textContent).toBe(CANCEL_REQUESTED);
    // a pipeline answer does not touch the step's note, nor the step's the pipeline's
    model.emit({ type: "cancel_error", message: "pipeline: no permission", request_id: pipelineRequest });
    expect(byTestId(el, "prw-run-cancel-note").textContent).toBe("pipeline: no permission");
    expect(byTestId(pane, "srw-run-cancel-note").textContent).toBe(CANCEL_REQUESTED);
    model.set("pane", { node_id: "n1", name: "prep", status: "Canceled" });
    expect(byTestId(pane, "srw-run-cancel").hidden).toBe(true);
  });
});
