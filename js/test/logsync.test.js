import { describe, expect, it } from "vitest";
import { LogBuffer } from "../src/logbuffer.js";
import { LogSync } from "../src/logsync.js";
import { allLines } from "./fake-model.js";

function setup({ logs, retryMs = 10_000 } = {}) {
  const buffers = { stdout: new LogBuffer(), stderr: new LogBuffer() };
  const sent = [];
  let time = 1000;
  const sync = new LogSync({ buffers, send: (m) => sent.push(m), now: () => time, retryMs });
  if (logs) sync.load(logs);
  const syncs = () => sent.filter((m) => m.type === "sync").length;
  const advance = (ms) => {
    time += ms;
  };
  return { sync, buffers, out: buffers.stdout, sent, syncs, advance };
}

describe("LogSync", () => {
  it("starts each stream from the trait's tail and seq", () => {
    const { sync, out, buffers } = setup({
      logs: {
        stdout: { tail: "l7\nl8\npar", first_line: 7, total_bytes: 99, seq: 4 },
        stderr: { tail: "", first_line: 0, total_bytes: 0, seq: 0 },
      },
    });
    expect(out.firstLine).toBe(7);
    expect(allLines(out)).toEqual(["l7", "l8", "par"]);
    expect(sync.lastSeq("stdout")).toBe(4);
    expect(sync.lastSeq("stderr")).toBe(0);
    expect(allLines(buffers.stderr)).toEqual([]);
  });

  it("skips messages the trait already holds and appends the next ones", () => {
    const { sync, out, syncs } = setup({ logs: { stdout: { tail: "a\nb", first_line: 0, seq: 2 } } });
    expect(sync.log("stdout", "b\n", 2)).toBe(false);
    expect(sync.log("stdout", "x\n", 1)).toBe(false);
    expect(sync.log("stdout", "\nc\n", 3)).toBe(true);
    expect(sync.log("stdout", "d", 4)).toBe(true);
    expect(allLines(out)).toEqual(["a", "b", "c", "d"]);
    expect(sync.lastSeq("stdout")).toBe(4);
    expect(syncs()).toBe(0);
  });

  it("counts from 0 when the trait has no entry or no seq", () => {
    const { sync, out } = setup({ logs: { stdout: { tail: "old\n", first_line: 0 } } });
    expect(sync.lastSeq("stdout")).toBe(0);
    expect(sync.lastSeq("stderr")).toBe(0);
    expect(sync.log("stdout", "new\n", 1)).toBe(true);
    expect(allLines(out)).toEqual(["old", "new"]);
  });

  it("ignores a message after a gap and sends one sync per pending gap", () => {
    const { sync, out, sent, syncs } = setup({ logs: { stdout: { tail: "a\n", first_line: 0, seq: 1 } } });
    expect(sync.log("stdout", "c\n", 3)).toBe(false);
    expect(sent).toEqual([{ type: "sync" }]);
    for (let seq = 4; seq < 50; seq++) sync.log("stdout", `line ${seq}\n`, seq);
    expect(syncs()).toBe(1); // not a storm
    expect(allLines(out)).toEqual(["a"]);
    expect(sync.snapshot("stdout", "a\nb\nc\n", 0, 3)).toBe(true);
    expect(allLines(out)).toEqual(["a", "b", "c"]);
    expect(sync.log("stdout", "d\n", 4)).toBe(true);
    expect(allLines(out)).toEqual(["a", "b", "c", "d"]);
    // A later gap is a new one: one more sync.
    expect(sync.log("stdout", "f\n", 6)).toBe(false);
    expect(sync.log("stdout", "g\n", 7)).toBe(false);
    expect(syncs()).toBe(2);
  });

  it("does not send a sync for a gap while the render-time sync waits for its answer", () => {
    const { sync, out, syncs } = setup({ logs: { stdout: { tail: "a\n", first_line: 0, seq: 1 } } });
    sync.sync();
    sync.log("stdout", "c\n", 3);
    expect(syncs()).toBe(1);
    sync.snapshot("stdout", "a\nb\nc\n", 0, 3);
    expect(allLines(out)).toEqual(["a", "b", "c"]);
  });

  it("asks again for a gap when a sync stays unanswered", () => {
    const { sync, syncs, advance } = setup({ retryMs: 5000 });
    sync.log("stdout", "x\n", 2);
    sync.log("stdout", "y\n", 3);
    expect(syncs()).toBe(1);
    advance(4999);
    sync.log("stdout", "z\n", 4);
    expect(syncs()).toBe(1);
    advance(1);
    sync.log("stdout", "w\n", 5);
    expect(syncs()).toBe(2);
  });

  it("keeps the waiting state per stream: one stream's snapshot does not end another's wait", () => {
    const { sync, syncs } = setup();
    sync.sync();
    sync.snapshot("stdout", "", 0, 0);
    sync.log("stderr", "late\n", 5); // stderr's snapshot is still on its way
    expect(syncs()).toBe(1);
    sync.snapshot("stderr", "", 0, 0);
    sync.log("stdout", "x\n", 3); // stdout's answer came: this gap is new
    expect(syncs()).toBe(2);
  });

  it("replaces a stream with a newer snapshot and ignores an equal or older one", () => {
    const { sync, out } = setup({ logs: { stdout: { tail: "a\nb\n", first_line: 0, seq: 5 } } });
    expect(sync.snapshot("stdout", "other\n", 0, 5)).toBe(false);
    expect(sync.snapshot("stdout", "older\n", 0, 4)).toBe(false);
    expect(allLines(out)).toEqual(["a", "b"]);
    // Unprompted, instead of one huge log message: the tail only, far into the log.
    expect(sync.snapshot("stdout", "l900\nl901\nhalf", 900, 6)).toBe(true);
    expect(out.firstLine).toBe(900);
    expect(allLines(out)).toEqual(["l900", "l901", "half"]);
    expect(sync.log("stdout", " done\n", 7)).toBe(true);
    expect(allLines(out)).toEqual(["l900", "l901", "half done"]);
  });

  it("clears a stream on a newer log_reset, which takes a seq of its own", () => {
    const { sync, out, buffers } = setup({
      logs: { stdout: { tail: "a\n", first_line: 0, seq: 3 }, stderr: { tail: "e\n", first_line: 0, seq: 1 } },
    });
    expect(sync.reset("stdout", 3)).toBe(false);
    expect(allLines(out)).toEqual(["a"]);
    expect(sync.reset("stdout", 4)).toBe(true);
    expect(allLines(out)).toEqual([]);
    expect(sync.lastSeq("stdout")).toBe(4);
    expect(sync.log("stdout", "new\n", 5)).toBe(true);
    expect(allLines(out)).toEqual(["new"]);
    expect(allLines(buffers.stderr)).toEqual(["e"]);
  });

  it("applies a reset after a gap: the stream starts again from it", () => {
    const { sync, out, syncs } = setup({ logs: { stdout: { tail: "a\n", first_line: 0, seq: 1 } } });
    expect(sync.reset("stdout", 9)).toBe(true);
    expect(sync.log("stdout", "fresh\n", 10)).toBe(true);
    expect(allLines(out)).toEqual(["fresh"]);
    expect(syncs()).toBe(0);
  });

  it("ignores unknown streams and malformed messages", () => {
    const { sync, out, sent } = setup();
    expect(sync.log("constructor", "x\n", 1)).toBe(false);
    expect(sync.log("__proto__", "x\n", 1)).toBe(false);
    expect(sync.log("stdout", 42, 1)).toBe(false);
    expect(sync.log("stdout", "x\n", undefined)).toBe(false);
    expect(sync.log("stdout", "x\n", "1")).toBe(false);
    expect(sync.log("stdout", "x\n", 1.5)).toBe(false);
    expect(sync.snapshot("stdout", null, 0, 3)).toBe(false);
    expect(sync.snapshot("stdout", "x\n", 0, -1)).toBe(false);
    expect(sync.reset("stdout", null)).toBe(false);
    expect(allLines(out)).toEqual([]);
    expect(sent).toEqual([]);
  });

  it("survives a send that throws (no kernel)", () => {
    const sync = new LogSync({
      buffers: { stdout: new LogBuffer() },
      send: () => {
        throw new Error("no comm");
      },
    });
    expect(() => sync.sync()).not.toThrow();
  });
});
