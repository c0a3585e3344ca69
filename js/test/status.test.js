import { describe, expect, it, vi, afterEach } from "vitest";
import { createElapsed, createStatusBadge, elapsedMs, formatElapsed, STATUSES } from "../src/status.js";

describe("status badge", () => {
  const expected = {
    NotStarted: "muted",
    Queued: "brand",
    Running: "brand",
    Finished: "success",
    Failed: "error",
    Canceled: "muted",
    NotResponding: "warn",
  };

  for (const [status, tone] of Object.entries(expected)) {
    it(`shows ${status} with its icon and ${tone} colour`, () => {
      const badge = createStatusBadge();
      badge.update(status);
      const word = badge.el.querySelector('[data-testid="srw-status"]');
      expect(word.textContent).toBe(status);
      expect(word.getAttribute("role")).toBe("status");
      expect(word.getAttribute("aria-live")).toBe("polite");
      expect(badge.el.classList.contains(`srw-tone-${tone}`)).toBe(true);
      expect(badge.el.querySelector(".srw-status-icon").textContent).toBe(STATUSES[status].icon);
      expect(badge.el.querySelector(".srw-status-icon").getAttribute("aria-hidden")).toBe("true");
    });
  }

  it("gives every status a distinct icon", () => {
    const icons = Object.values(STATUSES).map((s) => s.icon);
    expect(new Set(icons).size).toBe(icons.length);
  });

  it("shows an unknown status word as text with a neutral look", () => {
    const badge = createStatusBadge();
    badge.update("<b>Weird</b>");
    expect(badge.el.querySelector('[data-testid="srw-status"]').textContent).toBe("<b>Weird</b>");
    expect(badge.el.querySelector("b")).toBeNull();
    expect(badge.el.classList.contains("srw-tone-muted")).toBe(true);
  });
});

describe("formatElapsed", () => {
  it.each([
    [0, "0s"],
    [999, "0s"],
    [1000, "1s"],
    [59_999, "59s"],
    [60_000, "1m 00s"],
    [65_000, "1m 05s"],
    [3_599_000, "59m 59s"],
    [3_600_000, "1h 00m 00s"],
    [3_723_000, "1h 02m 03s"],
    [86_400_000, "1d 00h 00m"],
    [90_061_000, "1d 01h 01m"],
    [-5000, "0s"],
  ])("%d ms -> %s", (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });

  it("returns empty text for no time", () => {
    expect(formatElapsed(null)).toBe("");
    expect(formatElapsed(Number.NaN)).toBe("");
  });

  it("measures to end_time, or to now while running", () => {
    expect(elapsedMs(1000, 6000, 99_999)).toBe(5000);
    expect(elapsedMs(1000, null, 4000)).toBe(3000);
    expect(elapsedMs(null, null, 4000)).toBeNull();
  });
});

describe("elapsed clock", () => {
  afterEach(() => vi.useRealTimers());

  it("ticks every second while there is no end time and stops on dispose", () => {
    vi.useFakeTimers();
    vi.setSystemTime(100_000);
    const clock = createElapsed();
    clock.update(100_000 - 61_000, null);
    expect(clock.el.textContent).toBe("1m 01s");
    expect(clock.el.hidden).toBe(false);
    vi.advanceTimersByTime(2000);
    expect(clock.el.textContent).toBe("1m 03s");
    expect(clock.ticking).toBe(true);
    clock.dispose();
    expect(clock.ticking).toBe(false);
    vi.advanceTimersByTime(5000);
    expect(clock.el.textContent).toBe("1m 03s");
  });

  it("stops ticking once the run has an end time", () => {
    vi.useFakeTimers();
    vi.setSystemTime(10_000);
    const clock = createElapsed();
    clock.update(0, null);
    clock.update(0, 7000);
    expect(clock.ticking).toBe(false);
    expect(clock.el.textContent).toBe("7s");
    vi.advanceTimersByTime(3000);
    expect(clock.el.textContent).toBe("7s");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("is hidden without a start time", () => {
    const clock = createElapsed();
    clock.update(null, null);
    expect(clock.el.hidden).toBe(true);
    expect(clock.ticking).toBe(false);
  });
});
