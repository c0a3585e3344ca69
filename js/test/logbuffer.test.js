import { describe, expect, it } from "vitest";
import { LogBuffer } from "../src/logbuffer.js";
import { lineText } from "../src/ansi.js";

const held = (buf) => {
  const out = [];
  for (let i = buf.firstLine; i < buf.endLine; i++) out.push(lineText(buf.line(i)));
  return out;
};

describe("LogBuffer", () => {
  it("appends complete lines and keeps the unterminated one as partial", () => {
    const buf = new LogBuffer();
    const events = [];
    buf.subscribe((e) => events.push(e));
    buf.append("a\nb\nc");
    expect(held(buf)).toEqual(["a", "b"]);
    expect(buf.partial()).toBe("c");
    expect(buf.shownLines).toBe(3);
    expect(events).toEqual([{ type: "append", from: 0, to: 2, dropped: 0 }]);
  });

  it("loads a tail that starts further into the log", () => {
    const buf = new LogBuffer();
    buf.load("x\ny\n", 500);
    expect(buf.firstLine).toBe(500);
    expect(buf.endLine).toBe(502);
    expect(lineText(buf.line(501))).toBe("y");
  });

  it("drops the oldest lines beyond the cap", () => {
    const buf = new LogBuffer({ maxLines: 100 });
    let text = "";
    for (let i = 0; i < 250; i++) text += `line ${i}\n`;
    buf.append(text);
    expect(buf.count).toBe(100);
    expect(buf.firstLine).toBe(150);
    expect(lineText(buf.line(150))).toBe("line 150");
    expect(lineText(buf.line(249))).toBe("line 249");
  });

  it("prepends earlier lines that join the held ones, cutting overlap", () => {
    const buf = new LogBuffer();
    buf.load("l10\nl11\n", 10);
    expect(buf.prepend(5, ["l5", "l6", "l7", "l8", "l9", "l10"])).toBe(5);
    expect(buf.firstLine).toBe(5);
    expect(held(buf)).toEqual(["l5", "l6", "l7", "l8", "l9", "l10", "l11"]);
  });

  it("ignores earlier lines that would leave a gap", () => {
    const buf = new LogBuffer();
    buf.load("l10\n", 10);
    expect(buf.prepend(2, ["l2", "l3"])).toBe(0);
    expect(buf.firstLine).toBe(10);
    expect(buf.prepend(-1, ["x"])).toBe(0);
    expect(buf.prepend(10, ["x"])).toBe(0);
  });

  it("clears on reset", () => {
    const buf = new LogBuffer();
    buf.load("a\nb", 7);
    buf.clear();
    expect(buf.count).toBe(0);
    expect(buf.firstLine).toBe(0);
    expect(buf.partial()).toBeNull();
  });
});
