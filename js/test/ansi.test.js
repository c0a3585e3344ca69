import { describe, expect, it } from "vitest";
import { AnsiStream, incompleteEscapeLength, lineText, parseLines, renderLine } from "../src/ansi.js";

const ESC = "\x1b";

function render(line) {
  const row = document.createElement("div");
  renderLine(row, line);
  return row;
}

describe("AnsiStream", () => {
  it("keeps plain lines as strings and the unterminated one apart", () => {
    const s = new AnsiStream();
    expect(s.push("one\ntwo\nthr")).toEqual(["one", "two"]);
    expect(s.partialLine()).toBe("thr");
    expect(s.push("ee\n")).toEqual(["three"]);
    expect(s.partialLine()).toBeNull();
  });

  it("turns SGR colours into spans with colour classes and styles", () => {
    const s = new AnsiStream();
    const [line] = s.push(`plain ${ESC}[31mred${ESC}[0m ${ESC}[1;38;5;196mhot${ESC}[0m ${ESC}[38;2;1;2;3mrgb${ESC}[0m\n`);
    expect(lineText(line)).toBe("plain red hot rgb");
    const row = render(line);
    expect(row.textContent).toBe("plain red hot rgb");
    const spans = [...row.querySelectorAll("span")];
    expect(spans.map((s) => s.textContent)).toEqual(["red", "hot", "rgb"]);
    expect(spans[0].className).toBe("srw-ansi-red-fg");
    expect(spans[1].classList.contains("srw-ansi-bold")).toBe(true);
    expect(spans[1].style.color).toMatch(/rgb\(255, ?0, ?0\)/);
    expect(spans[2].style.color).toMatch(/rgb\(1, ?2, ?3\)/);
  });

  it("carries a colour across lines and chunks until reset", () => {
    const s = new AnsiStream();
    const lines = s.push(`${ESC}[32mgreen\nstill green`);
    lines.push(...s.push(" too\n"));
    lines.push(...s.push(`more${ESC}[0m plain\n`));
    const rows = lines.map(render);
    expect(rows[0].querySelector("span").className).toBe("srw-ansi-green-fg");
    expect(rows[1].querySelector("span").textContent).toBe("still green too");
    expect(rows[1].querySelector("span").className).toBe("srw-ansi-green-fg");
    expect(rows[2].querySelector("span").textContent).toBe("more");
    expect(rows[2].textContent).toBe("more plain");
  });

  it("renders a sequence split across two messages", () => {
    const s = new AnsiStream();
    expect(s.push(`before ${ESC}[3`)).toEqual([]);
    expect(lineText(s.partialLine())).toBe("before ");
    const [line] = s.push(`4mblue${ESC}[0m\n`);
    expect(lineText(line)).toBe("before blue");
    expect(render(line).querySelector("span").className).toBe("srw-ansi-blue-fg");
  });

  it("handles a split right after ESC and after ESC[", () => {
    for (const cut of [1, 2, 3, 4]) {
      const seq = `${ESC}[91m`;
      const s = new AnsiStream();
      s.push(`x${seq.slice(0, cut)}`);
      const [line] = s.push(`${seq.slice(cut)}y\n`);
      expect(lineText(line)).toBe("xy");
      expect(render(line).querySelector("span").className).toBe("srw-ansi-bright-red-fg");
    }
  });

  it("does not hold text behind a malformed escape", () => {
    const s = new AnsiStream();
    s.push(`a${ESC}[€b`);
    expect(lineText(s.partialLine())).toBe("a€b");
    expect(incompleteEscapeLength(`a${ESC}[12;3`)).toBe(6);
    expect(incompleteEscapeLength(`a${ESC}[12;3m`)).toBe(0);
  });

  it("drops cursor and OSC sequences but keeps the colour", () => {
    const s = new AnsiStream();
    const [line] = s.push(`${ESC}[33m${ESC}]0;title${"\x07"}warn${ESC}[K!${ESC}[0m\n`);
    expect(lineText(line)).toBe("warn!");
    const spans = render(line).querySelectorAll("span");
    expect([...spans].every((sp) => sp.className === "srw-ansi-yellow-fg")).toBe(true);
  });

  it("does not let colon-form SGR swallow later text", () => {
    const s = new AnsiStream();
    const lines = s.push(`${ESC}[38:5:196mabc\nHello\n`);
    expect(lines.map(lineText)).toEqual(["abc", "Hello"]);
  });

  it("lets \\r overwrite the current line (progress bars)", () => {
    const s = new AnsiStream();
    expect(s.push("progress 10%\rprogress 50%")).toEqual([]);
    expect(s.partialLine()).toBe("progress 50%");
    s.push("\r");
    expect(s.partialLine()).toBe("progress 50%"); // stays until new text arrives
    s.push("progress 100%");
    expect(s.partialLine()).toBe("progress 100%");
    expect(s.push("\ndone\n")).toEqual(["progress 100%", "done"]);
  });

  it("treats CRLF, also split between chunks, as a plain line end", () => {
    const s = new AnsiStream();
    expect(s.push("a\r\nb\r")).toEqual(["a"]);
    expect(s.push("\nc\n")).toEqual(["b", "c"]);
  });

  it("keeps a coloured progress line coloured after \\r", () => {
    const s = new AnsiStream();
    s.push(`${ESC}[36m 1%\r 2%\r 3%`);
    const line = s.partialLine();
    expect(lineText(line)).toBe(" 3%");
    expect(render(line).querySelector("span").className).toBe("srw-ansi-cyan-fg");
  });

  it("does the work of a chunk in time proportional to the chunk", () => {
    const s = new AnsiStream();
    let total = 0;
    for (let i = 0; i < 2000; i++) total += s.push(`line ${i}\n`).length;
    expect(total).toBe(2000);
  });

  it("parses fetched lines independently", () => {
    const lines = parseLines(["a", `${ESC}[31mb`, "c\r\n"]);
    expect(lines.map(lineText)).toEqual(["a", "b", "c"]);
    expect(render(lines[1]).querySelector("span").className).toBe("srw-ansi-red-fg");
  });

  it("renders markup in log text as inert text", () => {
    const s = new AnsiStream();
    const payload = "<img src=x onerror=alert(1)>";
    const [plain] = s.push(`${payload}\n`);
    const [coloured] = s.push(`${ESC}[31m${payload}${ESC}[0m\n`);
    for (const line of [plain, coloured]) {
      const row = render(line);
      expect(row.querySelector("img")).toBeNull();
      expect(row.textContent).toBe(payload);
    }
  });
});
