import { afterEach, describe, expect, it } from "vitest";
import { renderPipelineWidget } from "../src/pipeline_widget.js";
import { byTestId, makeSteps, pipelineModel } from "./fake-model.js";

const T = 1_700_000_000_000;
let mounted = [];
afterEach(() => {
  for (const m of mounted) m.dispose();
  mounted = [];
  document.body.textContent = "";
});

function mount() {
  const graph = { nodes: [{ id: "n1", name: "prep" }, { id: "n2", name: "train" }], edges: [["n1", "n2"]] };
  const steps = makeSteps(graph, {
    n2: { status: "Failed", start_time: T, end_time: T + 5000, error: "exit code 1", run_id: "r-train",
          why: "ran: argument --lr 0.1 → 0.01 since run 3f2a91c0…" },
  });
  const model = pipelineModel({ graph, steps });
  const el = document.createElement("div");
  document.body.append(el);
  const handle = renderPipelineWidget({ model, el, now: () => T + 9000 });
  mounted.push(handle);
  return { model, el, detail: byTestId(el, "prw-detail") };
}

const shown = (el) => el && !el.hidden;
const PANE = { node_id: "n2", run_id: "r-train", name: "train", status: "Failed", start_time: T, end_time: T + 5000, error: "exit code 1" };

describe("the step pane", () => {
  it("says badge, duration, run id and error once: the step view's, not the head's", () => {
    const { model, detail } = mount();
    model.set("selected", "n2");
    const head = detail.querySelector(".prw-detail-head");
    // before the step view is there (the kernel has not answered), the head says it all
    expect(shown(head.querySelector(".prw-detail-badge"))).toBe(true);
    expect(head.querySelector(".prw-detail-duration").textContent).toBe("5s");
    expect(head.querySelector(".srw-run-id").textContent).toBe("run r-train");
    expect(detail.querySelector(".prw-detail-error").textContent).toBe("exit code 1");
    model.set("pane", PANE);
    expect(detail.hasAttribute("data-child")).toBe(true);
    expect(byTestId(detail, "prw-detail-name").textContent).toBe("train");
    expect(shown(byTestId(detail, "prw-detail-close"))).toBe(true);
    for (const cls of [".prw-detail-badge", ".prw-detail-duration", ":scope > .srw-run-id"]) {
      expect(shown(head.querySelector(cls)), cls).toBe(false);
    }
    expect(shown(detail.querySelector(".prw-detail-error"))).toBe(false);
    expect(byTestId(detail, "srw-status").textContent).toBe("Failed"); // the step view's own badge
    // why it ran stays: the pipeline knows it, the step view does not
    expect(shown(byTestId(detail, "prw-detail-why"))).toBe(true);
    expect(byTestId(detail, "prw-detail-why").textContent).toBe("Why: ran: argument --lr 0.1 → 0.01 since run 3f2a91c0…");
    // back to a message (the selection closed, the step view gone): nothing extra is left
    model.set("selected", "");
    expect(detail.hasAttribute("data-child")).toBe(false);
    expect(detail.querySelector(".srw-root")).toBeNull();
  });
});
