// Metric series as the browser keeps them: no DOM, no chart library (the pipeline bundle uses
// the value helpers too). Protocol: docs/widget-protocol.md.
//
// A series is columnar: Float64Arrays of step, value and timestamp (ms) grown by doubling, so a
// 100,000-point series is three flat arrays, not 100,000 objects. Points nearly always arrive in
// step order; one that goes back (a step logged again, a restarted loop) marks the series
// unsorted, and it is sorted once, by step then timestamp then arrival, before it is next read.
//
// The code is kept terse on purpose: every byte here ships in the step bundle, whose growth for
// the metrics (uPlot included) is bounded (tests/bench/test_bench_metrics_chart.py).

// Past this many points (messages keep coming after a long live history) a series is cut to a
// quarter by min/max buckets, first and last point kept: memory stays bounded.
export const MAX_POINTS = 400_000;

const NAMED = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

// A value from the server: a number, or "NaN" / "Infinity" / "-Infinity" (JSON has no NaN).
// Anything else (null, other text) reads as NaN: a break in the line, never a crash.
export const toNumber = (v) =>
  typeof v === "number" ? v : typeof v !== "string" ? NaN : v in NAMED ? NAMED[v] : v.trim() ? Number(v) : NaN;

// Short text for a value: integers as they are, else 6 significant digits (exponent form when
// huge or tiny); NaN, ∞, -∞.
export function formatValue(v) {
  if (v !== v) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "-∞";
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e15) return String(v);
  return a && (a >= 1e6 || a < 1e-4) ? v.toExponential(4) : String(+v.toPrecision(6));
}

const COLS = ["step", "value", "time"];

export class Series {
  constructor(name) {
    this.name = name;
    this.description = "";
    this.count = 0; // points the server has (the trait and snapshots may hold fewer)
    this.seq = 0; // seq of the last message applied
    this.version = 0; // bumped on every change: derived data knows when to recompute
    this.epoch = 0; // bumped when points already there change (not by appends in order)
    this.clear();
  }

  clear() {
    this.n = 0;
    for (const c of COLS) this[c] = new Float64Array(64);
    this.sorted = true;
    this.version++;
    this.epoch++;
  }

  // Appends [[step, value, timestamp_ms], ...]; returns how many. A point without a finite
  // step is skipped (there is no x to draw it at).
  push(points) {
    let added = 0;
    for (const p of Array.isArray(points) ? points : []) {
      const s = Array.isArray(p) && typeof p[0] === "number" ? p[0] : NaN;
      if (!Number.isFinite(s)) continue;
      const t = typeof p[2] === "number" ? p[2] : NaN;
      const n = this.n;
      if (n === this.step.length) {
        for (const c of COLS) {
          const old = this[c];
          (this[c] = new Float64Array(n * 2)).set(old);
        }
      }
      if (n && (s < this.step[n - 1] || (s === this.step[n - 1] && t < this.time[n - 1]))) this.sorted = false;
      this.step[n] = s;
      this.value[n] = toNumber(p[1]);
      this.time[n] = t;
      this.n++;
      added++;
    }
    if (added) {
      this.version++;
      if (this.n > MAX_POINTS) {
        this.sort();
        this._take(bucketIndices(this.value, this.n, MAX_POINTS / 4));
      }
    }
    return added;
  }

  sort() {
    if (this.sorted) return this;
    const { n, step, time } = this;
    const order = new Uint32Array(n).map((_, i) => i);
    order.sort((a, b) => step[a] - step[b] || time[a] - time[b] || a - b);
    this._take(order);
    this.sorted = true;
    return this;
  }

  // Finite min/max, the non-finite count and the last point by step.
  stats() {
    this.sort();
    let min = Infinity;
    let max = -Infinity;
    let odd = 0;
    for (let i = 0; i < this.n; i++) {
      const v = this.value[i];
      if (!Number.isFinite(v)) odd++;
      else {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    const none = min > max;
    const last = this.n - 1;
    return {
      points: this.n,
      count: Math.max(this.count, this.n),
      min: none ? NaN : min,
      max: none ? NaN : max,
      nonFinite: odd,
      last: this.value[last] ?? NaN,
      firstStep: this.step[0],
      lastStep: this.step[last] ?? NaN,
    };
  }

  // Keeps the points at `order` (indices), in that order.
  _take(order) {
    const k = order.length;
    for (const c of COLS) {
      const old = this[c];
      const next = (this[c] = new Float64Array(Math.max(64, k)));
      for (let i = 0; i < k; i++) next[i] = old[order[i]];
    }
    this.n = k;
    this.version++;
    this.epoch++;
  }
}

// Indices into value[0..n) that keep its shape in `buckets` equal slices: per slice the finite
// minimum and maximum and the first non-finite value (so a NaN still breaks the line and an
// infinity is still marked), plus the first and the last index; ascending, at most 3 per slice + 2.
// Short series come back whole.
export function bucketIndices(value, n, buckets) {
  if (n <= buckets * 2 + 2) return new Uint32Array(n).map((_, i) => i);
  const out = new Uint32Array(buckets * 3 + 2);
  let k = 1; // out[0] = 0
  const size = n / buckets;
  for (let b = 0; b < buckets; b++) {
    let lo = -1;
    let hi = -1;
    let odd = -1;
    for (let i = Math.floor(b * size) || 1, end = Math.min(n - 1, Math.floor((b + 1) * size)); i < end; i++) {
      const v = value[i];
      if (!Number.isFinite(v)) odd < 0 && (odd = i);
      else {
        if (lo < 0 || v < value[lo]) lo = i;
        if (hi < 0 || v > value[hi]) hi = i;
      }
    }
    for (const i of [lo, hi, odd].sort((a, b) => a - b)) if (i > out[k - 1]) out[k++] = i;
  }
  out[k++] = n - 1;
  return out.slice(0, k);
}

// TensorBoard's smoothing: an exponential moving average debiased for its zero start (so the
// first points are not pulled towards 0). weight 0: the raw series; 0.99: very smooth.
// Non-finite values pass through and do not disturb the average. Returns { out, n, last, k };
// given the result of an earlier call on the first points of the same series, it goes on from
// there (a live series costs only its new points per frame).
export function smooth(value, n, weight, from) {
  let { out, n: i = 0, last = 0, k = 0 } = from ?? {};
  if (!out || out.length < n) {
    const next = new Float64Array(Math.max(64, n * 2));
    if (out) next.set(out.subarray(0, i));
    out = next;
  }
  for (; i < n; i++) {
    const v = value[i];
    out[i] = Number.isFinite(v) && weight > 0 ? (last = last * weight + (1 - weight) * v) / (1 - weight ** ++k) : v;
  }
  return { out, n, last, k };
}

// The `metrics` trait and the `metric` / `metric_snapshot` messages, ordered by seq (the rules of
// logsync.js): a message with seq <= the applied one is skipped, seq == applied + 1 appended, a
// larger one is a gap and asks for snapshots with `sync` (at most once per `retryMs` while one is
// awaited). A snapshot replaces its series whenever it is newer.
export class MetricsStore {
  constructor({ sync = () => {}, now = Date.now, retryMs = 10_000 } = {}) {
    this.series = new Map();
    this.requestSync = sync;
    this.now = now;
    this.retryMs = retryMs;
    this.awaiting = null; // when a sync went out that no snapshot has answered yet
  }

  get(name) {
    if (!this.series.has(name)) this.series.set(name, new Series(name));
    return this.series.get(name);
  }

  // Names of the series that have points, in first-seen order.
  names() {
    return [...this.series.values()].filter((s) => s.n).map((s) => s.name);
  }

  // The `metrics` trait. At render every entry loads; later values of the trait apply only where
  // they are newer than what the view has (it missed messages), and then, as the trait is
  // downsampled, the view asks for full snapshots. Returns the names changed.
  load(trait, initial = true) {
    const changed = [];
    for (const [name, e] of Object.entries(trait && typeof trait === "object" ? trait : {})) {
      if (!e || typeof e !== "object") continue;
      const s = this.get(name);
      if (typeof e.description === "string") s.description = e.description;
      if (initial || (e.seq | 0) > s.seq) changed.push(this._replace(s, e.points, e.count, e.seq | 0));
    }
    if (!initial && changed.length) this.sync();
    return changed;
  }

  // A `metric` message; true when it changed the series.
  metric(name, points, seq) {
    if (typeof name !== "string" || !Number.isInteger(seq)) return false;
    const s = this.get(name);
    if (seq <= s.seq) return false;
    if (seq > s.seq + 1) {
      if (this.awaiting === null || this.now() - this.awaiting >= this.retryMs) this.sync();
      return false;
    }
    s.seq = seq;
    s.count = Math.max(s.count, s.n) + s.push(points);
    return true;
  }

  // A `metric_snapshot` message: the whole live history as of `seq`.
  snapshot(name, points, count, seq) {
    if (typeof name !== "string" || !Number.isInteger(seq)) return false;
    this.awaiting = null;
    const s = this.get(name);
    return seq > s.seq && !!this._replace(s, points, count, seq);
  }

  _replace(s, points, count, seq) {
    s.clear();
    s.push(points);
    s.count = Number.isInteger(count) ? count : s.n;
    s.seq = seq;
    return s.name;
  }

  // Notes that a sync went out (the widget sends one after render, for the logs too).
  expectSnapshots() {
    this.awaiting = this.now();
  }

  sync() {
    this.expectSnapshots();
    this.requestSync();
  }
}
