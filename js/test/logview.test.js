import { describe, expect, it, vi } from "vitest";
import { LogBuffer } from "../src/logbuffer.js";
import { LogView } from "../src/logview.js";
import { scrollTo } from "./fake-model.js";

const ROW = 18;
const VIEW = 320;

function setup({ maxLines, onRequestOlder } = {}) {
  const buf = new LogBuffer({ maxLines });
  const view = new LogView({ rowHeight: ROW, viewportHeight: VIEW, onRequestOlder });
  document.body.append(view.el);
  view.setBuffer(buf, "stdout");
  const log = view.el.querySelector('[data-testid="srw-log"]');
  const lines = () => [...log.querySelectorAll(".srw-line")];
  const jump = view.el.querySelector('[data-testid="srw-jump"]');
  const older = view.el.querySelector('[data-testid="srw-older"]');
  const filter = view.el.querySelector('[data-testid="srw-filter"]');
  return { buf, view, log, lines, jump, older, filter };
}

const numbered = (from, to) => {
  let text = "";
  for (let i = from; i < to; i++) text += `line ${i}\n`;
  return text;
};

describe("LogView", () => {
  it("is a log region with accessible controls", () => {
    const { log, jump, older, filter } = setup();
    expect(log.getAttribute("role")).toBe("log");
    expect(jump.getAttribute("aria-label")).toBeTruthy();
    expect(older.getAttribute("aria-label")).toBeTruthy();
    expect(filter.getAttribute("aria-label")).toBeTruthy();
  });

  it("keeps the DOM bounded for 100,000 lines", () => {
    const { buf, view, log, lines } = setup();
    for (let k = 0; k < 100; k++) buf.append(numbered(k * 1000, (k + 1) * 1000));
    view.flush();
    expect(log.querySelectorAll("*").length).toBeLessThan(500);
    const shown = lines().map((el) => el.textContent);
    expect(shown.at(-1)).toBe("line 99999"); // following the tail
    expect(shown.length).toBeLessThan(100);
  });

  it("stays bounded while scrolled anywhere in the log", () => {
    const { buf, view, log, lines } = setup();
    buf.append(numbered(0, 100_000));
    view.flush();
    scrollTo(log, 50_000 * ROW);
    view.flush();
    expect(log.querySelectorAll("*").length).toBeLessThan(500);
    const shown = lines().map((el) => el.textContent);
    expect(shown).toContain("line 50000");
    expect(shown).toContain("line 50010");
    expect(shown).not.toContain("line 99999");
  });

  it("batches appends into one render per frame", async () => {
    const { buf, view, lines } = setup();
    view.flush();
    const spy = vi.spyOn(view, "_render");
    for (let i = 0; i < 50; i++) buf.append(`msg ${i}\n`);
    expect(spy).not.toHaveBeenCalled();
    await new Promise((r) => requestAnimationFrame(r));
    await new Promise((r) => requestAnimationFrame(r));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(lines().at(-1).textContent).toBe("msg 49");
  });

  it("does not rewrite rows whose line did not change", () => {
    const { buf, view, lines } = setup();
    buf.append(numbered(0, 5));
    view.flush();
    const first = lines()[0];
    const node = first.firstChild;
    buf.append("line 5\n");
    view.flush();
    expect(lines()[0].firstChild).toBe(node);
  });

  it("follows the tail, stops when scrolled up, and jumps back", () => {
    const { buf, view, log, lines, jump } = setup();
    buf.append(numbered(0, 1000));
    view.flush();
    expect(jump.hidden).toBe(true);
    const bottom = 1000 * ROW - VIEW;
    expect(log.scrollTop).toBe(bottom);

    scrollTo(log, 100 * ROW);
    view.flush();
    expect(jump.hidden).toBe(false);
    buf.append(numbered(1000, 2000));
    view.flush();
    expect(log.scrollTop).toBe(100 * ROW); // stays where the user is
    expect(lines().map((el) => el.textContent)).toContain("line 100");

    jump.click();
    expect(jump.hidden).toBe(true);
    expect(log.scrollTop).toBe(2000 * ROW - VIEW);
    expect(lines().at(-1).textContent).toBe("line 1999");
    buf.append("line 2000\n");
    view.flush();
    expect(lines().at(-1).textContent).toBe("line 2000");
  });

  it("resumes following when the user scrolls back to the bottom", () => {
    const { buf, view, log, jump } = setup();
    buf.append(numbered(0, 100));
    view.flush();
    scrollTo(log, 0);
    view.flush();
    expect(jump.hidden).toBe(false);
    scrollTo(log, 100 * ROW - VIEW);
    view.flush();
    expect(jump.hidden).toBe(true);
  });

  it("keeps the top line in place when old lines are dropped", () => {
    const { buf, view, log, lines } = setup({ maxLines: 1000 });
    buf.append(numbered(0, 1000));
    view.flush();
    scrollTo(log, 500 * ROW);
    view.flush();
    const topLine = () => buf.firstLine + log.scrollTop / ROW;
    expect(topLine()).toBe(500);
    buf.append(numbered(1000, 1200)); // drops lines 0..199
    view.flush();
    expect(buf.firstLine).toBe(200);
    expect(topLine()).toBe(500);
    expect(lines().map((r) => r.textContent)).toContain("line 500");
  });

  it("shows the unterminated line last and updates it in place", () => {
    const { buf, view, lines } = setup();
    buf.append("a\nprogress 10%");
    view.flush();
    expect(lines().map((el) => el.textContent)).toEqual(["a", "progress 10%"]);
    buf.append("\rprogress 90%");
    view.flush();
    expect(lines().map((el) => el.textContent)).toEqual(["a", "progress 90%"]);
  });

  it("filters by case-insensitive substring, including new lines", () => {
    const { buf, view, lines, filter } = setup();
    buf.append("Error: one\ninfo\nanother ERROR\nok\n");
    view.flush();
    filter.value = "error";
    filter.dispatchEvent(new Event("input"));
    view.flush();
    expect(lines().map((el) => el.textContent)).toEqual(["Error: one", "another ERROR"]);
    buf.append("fine\nerror three\n");
    view.flush();
    expect(lines().map((el) => el.textContent)).toEqual(["Error: one", "another ERROR", "error three"]);
    filter.value = "(";
    filter.dispatchEvent(new Event("input"));
    view.flush();
    expect(lines()).toHaveLength(0);
    filter.value = "";
    filter.dispatchEvent(new Event("input"));
    view.flush();
    expect(lines()).toHaveLength(6);
  });

  it("filters on visible text, not on escape codes", () => {
    const { buf, view, lines } = setup();
    buf.append("\x1b[31mred\x1b[0m\nplain 31m\n");
    view.setFilter("31m");
    view.flush();
    expect(lines().map((el) => el.textContent)).toEqual(["plain 31m"]);
  });

  it("asks for earlier lines once and shows them when they arrive", () => {
    const requests = [];
    const { buf, view, older, lines, log } = setup({
      onRequestOlder: (stream, beforeLine, count) => requests.push({ stream, beforeLine, count }),
    });
    buf.load(numbered(5000, 5010), 5000);
    view.flush();
    expect(older.hidden).toBe(false);
    older.click();
    older.click();
    expect(requests).toEqual([{ stream: "stdout", beforeLine: 5000, count: 2000 }]);
    view.flush();
    expect(older.disabled).toBe(true);

    const answer = [];
    for (let i = 3000; i < 5000; i++) answer.push(`line ${i}`);
    buf.prepend(3000, answer);
    view.flush();
    expect(buf.firstLine).toBe(3000);
    expect(older.disabled).toBe(false);
    scrollTo(log, 0);
    view.flush();
    expect(lines()[0].textContent).toBe("line 3000");
    expect(lines()[0].dataset.line).toBe("3000");
  });

  it("can ask again after an answer that does not join the held lines", () => {
    const requests = [];
    const { buf, view, older } = setup({ onRequestOlder: (...args) => requests.push(args) });
    buf.load("x\n", 100);
    view.flush();
    older.click();
    view.flush();
    expect(older.disabled).toBe(true);
    expect(buf.prepend(10, ["a", "b"])).toBe(0); // leaves a gap: ignored
    view.flush();
    expect(older.disabled).toBe(false);
    expect(buf.firstLine).toBe(100);
    older.click();
    expect(requests).toHaveLength(2);
  });

  it("hides the earlier-lines button when the log starts at line 0", () => {
    const { buf, view, older } = setup();
    buf.load("a\n", 0);
    view.flush();
    expect(older.hidden).toBe(true);
  });

  it("switches buffers and remembers each one's position", () => {
    const { buf, view, log, lines } = setup();
    const other = new LogBuffer();
    buf.append(numbered(0, 500));
    other.append("err 1\nerr 2\n");
    view.flush();
    scrollTo(log, 10 * ROW);
    view.flush();
    view.setBuffer(other, "stderr");
    view.flush();
    expect(lines().map((el) => el.textContent)).toEqual(["err 1", "err 2"]);
    view.setBuffer(buf, "stdout");
    view.flush();
    expect(log.scrollTop).toBe(10 * ROW);
  });

  it("uses a scaled scrollbar for a million lines and still reaches both ends", () => {
    const { buf, view, log, lines } = setup();
    const chunk = numbered(0, 10_000);
    for (let k = 0; k < 100; k++) buf.append(chunk);
    view.flush();
    const spacer = log.querySelector(".srw-log-spacer");
    expect(parseFloat(spacer.style.height)).toBeLessThanOrEqual(8_000_000);
    expect(lines().at(-1).dataset.line).toBe("999999");
    scrollTo(log, 0);
    view.flush();
    expect(lines()[0].dataset.line).toBe("0");
    expect(log.querySelectorAll("*").length).toBeLessThan(500);
  });
});
