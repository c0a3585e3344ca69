import { describe, expect, it, vi } from "vitest";
import { BUSY_NOTE, createBusyNote } from "../src/busy_note.js";

describe("busy note", () => {
  it("shows after a second without an answer, and goes with the answer", () => {
    vi.useFakeTimers();
    const note = createBusyNote({ delayMs: 1000 });
    note.sent({ type: "download" });
    vi.advanceTimersByTime(999);
    expect(note.el.hidden).toBe(true);
    vi.advanceTimersByTime(1);
    expect(note.el.hidden).toBe(false);
    expect(note.el.textContent).toBe(BUSY_NOTE);
    note.received({ type: "log", stream: "stdout" }); // streamed by the poller: no answer
    expect(note.el.hidden).toBe(false);
    note.received({ type: "download_start", request_id: "x" });
    expect(note.el.hidden).toBe(true);
    vi.useRealTimers();
  });

  it("stays hidden for a kernel that serves clicks while a cell runs", () => {
    vi.useFakeTimers();
    const note = createBusyNote();
    note.received({ type: "sync_done", serves_while_busy: true });
    note.sent({ type: "save_local" });
    vi.advanceTimersByTime(5000);
    expect(note.el.hidden).toBe(true);
    vi.useRealTimers();
  });

  it("ignores messages that ask for no answer, and a trait answer clears it", () => {
    vi.useFakeTimers();
    const note = createBusyNote();
    note.sent({ type: "download_ack" });
    vi.advanceTimersByTime(2000);
    expect(note.el.hidden).toBe(true);
    note.sent(); // a step view opening: answered by the `pane` trait
    vi.advanceTimersByTime(1000);
    expect(note.el.hidden).toBe(false);
    note.answered();
    expect(note.el.hidden).toBe(true);
    vi.useRealTimers();
  });
});
