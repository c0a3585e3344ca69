import { afterEach, describe, expect, it, vi } from "vitest";
import { renderStepWidget } from "../src/step_widget.js";
import { renderPipelineWidget } from "../src/pipeline_widget.js";
import { byTestId, makeSteps, pipelineModel } from "./fake-model.js";

// renderStepWidget as it is, but a test can make it throw.
vi.mock("../src/step_widget.js", async (importOriginal) => {
  const real = await importOriginal();
  return { ...real, renderStepWidget: vi.fn(real.renderStepWidget) };
});

afterEach(() => {
  vi.mocked(renderStepWidget).mockClear();
  document.body.textContent = "";
});

describe("a step view that cannot be shown", () => {
  it("leaves no listener on the pipeline's model and is not tried again at every pane update", () => {
    const graph = { nodes: [{ id: "n1", name: "prep" }, { id: "n2", name: "train" }], edges: [["n1", "n2"]] };
    const model = pipelineModel({ graph, steps: makeSteps(graph, { n1: { status: "Running" }, n2: { status: "Running" } }) });
    const el = document.body.appendChild(document.createElement("div"));
    const handle = renderPipelineWidget({ model, el });
    const listeners = model.listenerCount();
    vi.mocked(renderStepWidget).mockImplementationOnce(() => {
      throw new Error("no view");
    });
    model.setMany({ selected: "n1", pane: { node_id: "n1", name: "prep", status: "Running" } });
    expect(byTestId(el, "prw-detail").textContent).toContain("Could not show the step view: no view");
    expect(model.listenerCount()).toBe(listeners);
    for (let i = 0; i < 3; i++) model.set("pane", { node_id: "n1", name: "prep", status: "Running", i });
    expect(renderStepWidget).toHaveBeenCalledTimes(1);
    expect(model.listenerCount()).toBe(listeners);
    // another step shows; back on the first, it is tried once more
    model.setMany({ selected: "n2", pane: { node_id: "n2", name: "train", status: "Running" } });
    expect(handle.stepView).not.toBeNull();
    model.setMany({ selected: "n1", pane: { node_id: "n1", name: "prep", status: "Running" } });
    expect(renderStepWidget).toHaveBeenCalledTimes(3);
    expect(handle.detail.shownNode).toBe("n1");
    handle.dispose();
    expect(model.listenerCount()).toBe(0);
  });
});
