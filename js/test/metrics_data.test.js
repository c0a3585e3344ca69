import { describe, expect, it } from "vitest";
import {
  MAX_POINTS,
  MetricsStore,
  Series,
  bucketIndices,
  formatValue,
  smooth,
  toNumber,
} from "../src/metrics_data.js";

const pts = (s) => Array.from({ length: s.n }, (_, i) => [s.step[i], s.value[i], s.time[i]]);

describe("values", () => {
  it("reads the protocol's non-finite strings and numbers; anything else is NaN", () => {
    expect(toNumber("NaN")).toBeNaN();
    expect(toNumber("Infinity")).toBe(Infinity);
    expect(toNumber("-Infinity")).toBe(-Infinity);
    expect(toNumber(1e308)).toBe(1e308);
    expect(toNumber(-0.5)).toBe(-0.5);
    expect(toNumber("2.5")).toBe(2.5);
    for (const odd of [null, undefined, "", "  ", "loss", {}, [], true]) expect(toNumber(odd)).toBeNaN();
  });

  it("formats values short and stable", () => {
    expect(formatValue(3)).toBe("3");
    expect(formatValue(0.123456789)).toBe("0.123457");
    expect(formatValue(1e308)).toBe("1.0000e+308");
    expect(formatValue(1.5e-7)).toBe("1.5000e-7");
    expect(formatValue(0)).toBe("0");
    expect(formatValue(NaN)).toBe("NaN");
    expect(formatValue(Infinity)).toBe("∞");
    expect(formatValue(-Infinity)).toBe("-∞");
  });
});

describe("Series", () => {
  it("keeps points in typed columns and grows past its first buffer", () => {
    const s = new Series("loss");
    const n = 100_000;
    const batch = [];
    for (let i = 0; i < n; i++) batch.push([i, 1 / (i + 1), 1000 + i]);
    expect(s.push(batch)).toBe(n);
    expect(s.n).toBe(n);
    expect(s.step).toBeInstanceOf(Float64Array);
    expect(s.value).toBeInstanceOf(Float64Array);
    expect(s.sorted).toBe(true);
    expect(s.value[n - 1]).toBeCloseTo(1 / n);
    const st = s.stats();
    expect(st).toMatchObject({ points: n, count: n, max: 1, lastStep: n - 1, firstStep: 0, nonFinite: 0 });
    expect(st.min).toBeCloseTo(1 / n);
  });

  it("sorts steps that go backwards by step, ties by timestamp, then arrival", () => {
    const s = new Series("m");
    s.push([[0, 1, 10], [5, 2, 20], [3, 3, 30], [5, 4, 15], [1, 5, 40], [5, 6, 15]]);
    expect(s.sorted).toBe(false);
    s.sort();
    expect(pts(s)).toEqual([[0, 1, 10], [1, 5, 40], [3, 3, 30], [5, 4, 15], [5, 6, 15], [5, 2, 20]]);
    expect(s.stats().last).toBe(2);
  });

  it("maps non-finite values and skips points without a step", () => {
    const s = new Series("m");
    const added = s.push([[0, "NaN", 1], [1, "Infinity", 2], [2, "-Infinity", 3], ["x", 1, 4], [null, 1], "junk", [3, 7]]);
    expect(added).toBe(4);
    expect(s.value[0]).toBeNaN();
    expect(s.value[1]).toBe(Infinity);
    expect(s.value[2]).toBe(-Infinity);
    expect(s.value[3]).toBe(7);
    expect(s.time[3]).toBeNaN();
    const st = s.stats();
    expect(st).toMatchObject({ min: 7, max: 7, nonFinite: 3 });
    expect(new Series("e").stats().min).toBeNaN();
  });

  it("stays bounded past MAX_POINTS, keeping the first, last, min and max points", () => {
    const s = new Series("big");
    const chunk = 50_000;
    for (let start = 0; start <= MAX_POINTS; start += chunk) {
      const batch = [];
      for (let i = start; i < start + chunk; i++) batch.push([i, i === 123_457 ? -99 : i === 300_001 ? 1e9 : Math.sin(i / 1000), i]);
      s.push(batch);
    }
    expect(s.n).toBeLessThanOrEqual(MAX_POINTS);
    expect(s.n).toBeGreaterThan(MAX_POINTS / 8);
    expect(s.step[0]).toBe(0);
    const st = s.stats();
    expect(st.lastStep).toBe(MAX_POINTS + chunk - 1);
    expect(st.min).toBe(-99);
    expect(st.max).toBe(1e9);
  });
});

describe("bucketIndices", () => {
  it("returns short series whole", () => {
    expect([...bucketIndices(new Float64Array([1, 2, 3]), 3, 100)]).toEqual([0, 1, 2]);
  });

  it("keeps first, last, each slice's min and max and its first non-finite value", () => {
    const n = 10_000;
    const v = new Float64Array(n).map((_, i) => Math.cos(i / 50));
    v[4321] = 50;
    v[6000] = -50;
    v[7000] = NaN;
    v[8000] = Infinity;
    const idx = bucketIndices(v, n, 200);
    expect(idx.length).toBeLessThanOrEqual(200 * 3 + 2);
    expect(idx[0]).toBe(0);
    expect(idx[idx.length - 1]).toBe(n - 1);
    for (const i of [4321, 6000, 7000, 8000]) expect([...idx]).toContain(i);
    for (let j = 1; j < idx.length; j++) expect(idx[j]).toBeGreaterThan(idx[j - 1]);
  });
});

describe("smooth", () => {
  it("is the raw series at weight 0 and debiased (no pull towards 0) otherwise", () => {
    const v = new Float64Array([5, 5, 5, 5]);
    expect([...smooth(v, 4, 0).out.subarray(0, 4)]).toEqual([5, 5, 5, 5]);
    for (const x of smooth(v, 4, 0.9).out.subarray(0, 4)) expect(x).toBeCloseTo(5, 10);
  });

  it("matches TensorBoard's debiased EMA and lets non-finite values through", () => {
    const v = new Float64Array([1, 2, NaN, 4]);
    const w = 0.5;
    const { out } = smooth(v, 4, w);
    // last = 0.5*last + 0.5*v; divided by 1 - 0.5^k for the k-th finite value
    expect(out[0]).toBeCloseTo(0.5 / 0.5);
    expect(out[1]).toBeCloseTo(1.25 / 0.75);
    expect(out[2]).toBeNaN();
    expect(out[3]).toBeCloseTo(2.625 / 0.875);
  });

  it("goes on from an earlier result as points are appended", () => {
    const v = new Float64Array(1000).map((_, i) => Math.sin(i) + i / 100);
    const whole = smooth(v, 1000, 0.8).out;
    let state = smooth(v, 10, 0.8);
    for (const n of [11, 500, 999, 1000]) state = smooth(v, n, 0.8, state);
    expect(state.n).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(state.out[i]).toBe(whole[i]);
  });
});

describe("MetricsStore", () => {
  const make = () => {
    let t = 0;
    const sent = [];
    const store = new MetricsStore({ sync: () => sent.push("sync"), now: () => t, retryMs: 1000 });
    return { store, sent, tick: (ms) => (t += ms) };
  };

  it("loads the trait, skips messages it has, appends the next one", () => {
    const { store, sent } = make();
    store.load({ loss: { points: [[0, 1, 1], [1, 0.5, 2]], count: 2, seq: 3, description: "train loss" } });
    const s = store.get("loss");
    expect(s.n).toBe(2);
    expect(s.description).toBe("train loss");
    expect(store.metric("loss", [[1, 0.5, 2]], 3)).toBe(false);
    expect(store.metric("loss", [[2, 0.25, 3], [3, 0.2, 4]], 4)).toBe(true);
    expect(s.n).toBe(4);
    expect(s.count).toBe(4);
    expect(s.seq).toBe(4);
    expect(sent).toEqual([]);
  });

  it("counts points beyond a downsampled trait", () => {
    const { store } = make();
    store.load({ loss: { points: [[0, 1, 1], [99_999, 0.1, 2]], count: 100_000, seq: 7 } });
    store.metric("loss", [[100_000, 0.09, 3]], 8);
    expect(store.get("loss").count).toBe(100_001);
    expect(store.get("loss").n).toBe(3);
  });

  it("asks for a sync on a gap, once until the answer or the retry time", () => {
    const { store, sent, tick } = make();
    store.load({ loss: { points: [[0, 1, 1]], count: 1, seq: 1 } });
    expect(store.metric("loss", [[5, 0.1, 9]], 3)).toBe(false);
    expect(store.metric("loss", [[6, 0.1, 9]], 4)).toBe(false);
    expect(sent).toEqual(["sync"]);
    tick(1000);
    store.metric("loss", [[7, 0.1, 9]], 5);
    expect(sent).toEqual(["sync", "sync"]);
    // the answer: the whole history as of seq 5
    expect(store.snapshot("loss", [[0, 1, 1], [5, 0.1, 9], [6, 0.1, 9], [7, 0.1, 9]], 4, 5)).toBe(true);
    expect(store.get("loss").n).toBe(4);
    expect(store.metric("loss", [[8, 0.1, 9]], 6)).toBe(true);
    expect(store.get("loss").n).toBe(5);
    expect(store.snapshot("loss", [[0, 1, 1]], 1, 4)).toBe(false); // older: ignored
    expect(store.get("loss").n).toBe(5);
  });

  it("starts a metric first seen in a message at seq 1", () => {
    const { store, sent } = make();
    expect(store.metric("acc", [[0, 0.5, 1]], 1)).toBe(true);
    expect(store.names()).toEqual(["acc"]);
    expect(store.metric("other", [[0, 0.5, 1]], 2)).toBe(false);
    expect(sent).toEqual(["sync"]);
    expect(store.names()).toEqual(["acc"]);
  });

  it("applies a later trait only where it is newer, then asks for full snapshots", () => {
    const { store, sent } = make();
    store.load({ a: { points: [[0, 1, 1]], count: 1, seq: 2 }, b: { points: [[0, 1, 1]], count: 1, seq: 2 } });
    store.metric("a", [[1, 2, 2]], 3);
    expect(store.load({ a: { points: [[0, 1, 1]], count: 1, seq: 2 } }, false)).toEqual([]);
    expect(store.get("a").n).toBe(2);
    expect(sent).toEqual([]);
    expect(store.load({ b: { points: [[0, 1, 1], [1, 3, 2], [2, 4, 3]], count: 9, seq: 5 } }, false)).toEqual(["b"]);
    expect(store.get("b").count).toBe(9);
    expect(sent).toEqual(["sync"]);
  });

  it("ignores malformed messages and trait entries", () => {
    const { store } = make();
    expect(store.load(null)).toEqual([]);
    expect(store.load({ x: null, y: "text" })).toEqual([]);
    expect(store.metric(5, [], 1)).toBe(false);
    expect(store.metric("m", [], "1")).toBe(false);
    expect(store.snapshot("m", null, null, 1.5)).toBe(false);
    expect(store.metric("m", "not points", 1)).toBe(true);
    expect(store.get("m").n).toBe(0);
  });
});
