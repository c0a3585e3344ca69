import { describe, expect, it } from "vitest";
import { axisTicks, createTimeline, stepBars, timeRange } from "../src/timeline.js";
import { stepsByNode, summarize, summaryText } from "../src/pipeline_steps.js";

const T = 1_700_000_000_000;

describe("timeline bars", () => {
  it("has a queued bar up to the start and a run bar up to the end", () => {
    const step = { status: "Finished", queued_time: T, start_time: T + 2000, end_time: T + 10000 };
    expect(stepBars(step, T + 99999)).toEqual({ queued: [T, T + 2000], run: [T + 2000, T + 10000] });
  });

  it("lets open bars end now while the step is queued or running", () => {
    expect(stepBars({ status: "Queued", queued_time: T }, T + 5000)).toEqual({ queued: [T, T + 5000], run: null });
    expect(stepBars({ status: "Running", queued_time: T, start_time: T + 1000 }, T + 5000)).toEqual({
      queued: [T, T + 1000],
      run: [T + 1000, T + 5000],
    });
  });

  it("does not let a final step without an end grow", () => {
    expect(stepBars({ status: "Canceled", queued_time: T }, T + 5000)).toEqual({ queued: null, run: null });
    expect(stepBars({ status: "Failed", start_time: T }, T + 5000).run).toEqual([T, T]);
    expect(stepBars(undefined, T)).toEqual({ queued: null, run: null });
  });

  it("spans the axis from the first queued time to the last end, or now while open", () => {
    const done = [
      { status: "Finished", queued_time: T, start_time: T + 1000, end_time: T + 4000 },
      { status: "Finished", queued_time: T + 500, start_time: T + 4000, end_time: T + 9000 },
    ];
    expect(timeRange(done, T + 60000)).toEqual({ t0: T, t1: T + 9000, open: false });
    const open = [...done, { status: "Running", queued_time: T + 8000, start_time: T + 8500 }];
    expect(timeRange(open, T + 60000)).toEqual({ t0: T, t1: T + 60000, open: true });
    expect(timeRange([{ status: "NotStarted" }], T)).toBeNull();
  });

  it("labels the axis with at most six nice ticks", () => {
    expect(axisTicks(9000)).toEqual([0, 2000, 4000, 6000, 8000]);
    expect(axisTicks(60 * 60 * 1000)).toEqual([0, 600000, 1200000, 1800000, 2400000, 3000000, 3600000]);
    for (const span of [1000, 7777, 123456, 9e6, 5e8]) expect(axisTicks(span).length).toBeLessThanOrEqual(7);
  });

  it("places bars in % of the shared axis, coloured by status, and grows running bars", () => {
    const tl = createTimeline();
    const rows = [
      { id: "a", name: "prep" },
      { id: "b", name: "train" },
      { id: "c", name: "later" },
    ];
    const steps = stepsByNode([
      { node_id: "a", status: "Finished", queued_time: T, start_time: T + 1000, end_time: T + 5000 },
      { node_id: "b", status: "Running", queued_time: T + 5000, start_time: T + 6000, end_time: null },
      { node_id: "c", status: "NotStarted" },
    ]);
    tl.update(rows, steps, T + 10000);
    const a = tl.rows.get("a");
    expect(a.queued.style.left).toBe("0.0%");
    expect(a.queued.style.width).toBe("10.0%");
    expect(a.run.style.left).toBe("10.0%");
    expect(a.run.style.width).toBe("40.0%");
    expect(a.run.className).toContain("prw-tone-success");
    const b = tl.rows.get("b");
    expect(b.run.className).toContain("prw-tone-brand");
    expect(b.run.style.width).toBe("40.0%");
    expect(tl.rows.get("c").run.hidden).toBe(true);
    expect(tl.el.querySelector('[data-testid="prw-timeline-row-b"]').getAttribute("data-status")).toBe("Running");
    tl.tick(T + 20000); // the axis now ends 10 s later: b grows, a shrinks in %
    expect(b.run.style.width).toBe("70.0%");
    expect(a.run.style.width).toBe("20.0%");
    expect(tl.el.querySelectorAll(".prw-tl-tick").length).toBeGreaterThan(1);
  });

  it("says so when no step was queued yet", () => {
    const tl = createTimeline();
    tl.update([{ id: "a", name: "prep" }], stepsByNode([{ node_id: "a", status: "NotStarted" }]), T);
    expect(tl.el.querySelector(".prw-tl-empty").hidden).toBe(false);
  });
});

describe("summary counts", () => {
  it("counts by status in a fixed order, a node without a step as not started", () => {
    const rows = ["a", "b", "c", "d", "e", "f", "g", "h"].map((id) => ({ id, name: id }));
    const steps = stepsByNode([
      { node_id: "a", status: "Finished" },
      { node_id: "b", status: "Queued" },
      { node_id: "c", status: "Finished", reused: true },
      { node_id: "d", status: "Running" },
      { node_id: "e", status: "Finished" },
      { node_id: "f", status: "Queued" },
      { node_id: "g", status: "Weird" },
    ]);
    const s = summarize(rows, steps);
    expect(summaryText(s)).toBe("3 Finished · 1 Running · 2 Queued · 1 Not started · 1 Weird");
    expect(s.reused).toBe(1);
    expect(s.total).toBe(8);
  });
});

describe("a narrow axis", () => {
  it("holds fewer labels, never fewer than two", async () => {
    const { axisTickCount, axisTicks } = await import("../src/timeline.js");
    expect(axisTickCount(0)).toBe(6); // not laid out yet: the default
    expect(axisTickCount(1000)).toBe(6);
    expect(axisTickCount(200)).toBe(3);
    expect(axisTickCount(60)).toBe(1);
    const ticks = axisTicks(120_000, axisTickCount(200));
    expect(ticks.length).toBeLessThanOrEqual(4); // 64 px apart at least on 200 px
    expect(ticks[0]).toBe(0);
  });
});
