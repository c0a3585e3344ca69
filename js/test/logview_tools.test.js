import { afterEach, describe, expect, it } from "vitest";
import { LogBuffer } from "../src/logbuffer.js";
import { LogView } from "../src/logview.js";
import { fitHeight, highlightMatches, jumpLabel } from "../src/highlight.js";
import { renderLine, parseLines } from "../src/ansi.js";
import { createLogExport, logExportNote } from "../src/log_export.js";
import { scrollTo } from "./fake-model.js";

afterEach(() => {
  document.body.textContent = "";
});

function setup() {
  const buf = new LogBuffer();
  const view = new LogView({ rowHeight: 18, viewportHeight: 320 });
  document.body.append(view.el);
  view.setBuffer(buf, "stdout");
  const log = view.el.querySelector('[data-testid="srw-log"]');
  return { buf, view, log, rows: () => [...log.querySelectorAll(".srw-line")] };
}

const numbered = (from, to) => {
  let text = "";
  for (let i = from; i < to; i++) text += `line ${i}\n`;
  return text;
};

describe("log viewer tools", () => {
  it("numbers each row from 1 in the gutter, outside the line's text", () => {
    const { buf, view, rows, log } = setup();
    buf.append(numbered(0, 120));
    view.flush();
    const last = rows().at(-1);
    expect(last.dataset.ln).toBe("120");
    expect(last.textContent).toBe("line 119");
    expect(log.style.getPropertyValue("--srw-ln-w")).toBe("3ch");
  });

  it("marks filter matches inside coloured spans, as text", () => {
    const el = document.createElement("div");
    renderLine(el, parseLines(["\x1b[31m<b>red Err\x1b[32mor\x1b[0m and error again"])[0]);
    expect(highlightMatches(el, /error/i)).toBe(2);
    const marks = [...el.querySelectorAll("mark.srw-match")].map((m) => m.textContent);
    expect(marks.join("|")).toBe("Err|or|error");
    expect(el.textContent).toBe("<b>red Error and error again");
    expect(el.querySelector("b")).toBeNull();
    expect(highlightMatches(el, null)).toBe(0);
  });

  it("highlights matches in the rows a filter shows", () => {
    const { buf, view, rows } = setup();
    buf.append("alpha\nbeta gamma\ngamma ray\n");
    view.setFilter("GAMMA");
    view.flush();
    expect(rows().map((r) => r.querySelector("mark")?.textContent)).toEqual(["gamma", "gamma"]);
    view.setFilter("");
    view.flush();
    expect(rows()[0].querySelector("mark")).toBeNull();
  });

  it("says how many lines came since the user scrolled up", () => {
    expect(jumpLabel(0)).toBe("Jump to end ↓");
    expect(jumpLabel(1)).toBe("Jump to end (1 new line) ↓");
    expect(jumpLabel(1234)).toBe("Jump to end (1,234 new lines) ↓");
    const { buf, view, log } = setup();
    buf.append(numbered(0, 500));
    view.flush();
    scrollTo(log, 100);
    view.flush();
    buf.append(numbered(500, 530));
    view.flush();
    const jump = view.el.querySelector('[data-testid="srw-jump"]');
    expect(jump.hidden).toBe(false);
    expect(jump.textContent).toBe("Jump to end (30 new lines) ↓");
    jump.click();
    view.flush();
    expect(jump.hidden).toBe(true);
    buf.append(numbered(530, 531));
    view.flush();
    expect(jump.textContent).toBe("Jump to end ↓");
  });

  it("toggles wrapping of long lines", () => {
    const { view, log } = setup();
    const toggle = view.el.querySelector('[data-testid="srw-wrap"]');
    expect(toggle.getAttribute("aria-pressed")).toBe("false");
    toggle.click();
    expect(toggle.getAttribute("aria-pressed")).toBe("true");
    expect(log.classList.contains("srw-wrap")).toBe(true);
    toggle.click();
    expect(log.classList.contains("srw-wrap")).toBe(false);
  });

  it("fits the panel to a short log and stops at the full height", () => {
    expect(fitHeight(2, 18)).toBe(60);
    expect(fitHeight(10, 18)).toBe(184);
    expect(fitHeight(2000, 18)).toBe(320);
    const { buf, view, log } = setup();
    buf.append("one\ntwo\n");
    view.flush();
    expect(log.style.height).toBe("60px");
    buf.append(numbered(0, 100));
    view.flush();
    expect(log.style.height).toBe("320px");
    buf.clear(); // another tab, a filter: the panel keeps its height (the page does not jump)
    buf.append("one\n");
    view.flush();
    expect(log.style.height).toBe("320px");
    log.style.height = "500px"; // the user dragged the corner
    buf.clear();
    view.flush();
    expect(log.style.height).toBe("500px");
  });
});

describe("copy and save the whole log", () => {
  function exporter(copy) {
    const sent = [];
    const saved = [];
    let stream = "stdout";
    const ex = createLogExport({ send: (m) => sent.push(m), currentStream: () => stream, copy });
    ex.downloads.save = (blob, filename) => saved.push([blob, filename]);
    return { ex, sent, saved, setStream: (s) => (stream = s) };
  }

  it("asks the kernel for the whole log of the stream shown and saves it", () => {
    const { ex, sent } = exporter();
    const [, save] = ex.buttons;
    save.click();
    expect(sent[0]).toMatchObject({ type: "download_log", stream: "stdout" });
    const id = sent[0].request_id;
    ex.handle({ type: "download_start", request_id: id, filename: "train-stdout.txt", size: 3, mime: "text/plain" });
    expect(ex.note.textContent).toBe("Reading the whole stdout log…");
    ex.handle({ type: "download_chunk", request_id: id, received: 3 }, [new Uint8Array([104, 105, 10])]);
    expect(sent.at(-1)).toEqual({ type: "download_ack", request_id: id, received: 3 });
  });

  it("copies the whole log's text and says so, or why not", async () => {
    const copied = [];
    const { ex, sent } = exporter(async (blob) => copied.push(await blob.text()));
    ex.downloads.save = undefined; // use the exporter's own save (copy mode)
    const real = createLogExport({ send: (m) => sent.push(m), currentStream: () => "stderr", copy: async (b) => copied.push(await b.text()) });
    real.buttons[0].click();
    const id = sent.at(-1).request_id;
    expect(sent.at(-1)).toMatchObject({ type: "download_log", stream: "stderr" });
    real.handle({ type: "download_start", request_id: id, filename: "t-stderr.txt", size: 3, mime: "text/plain" });
    real.handle({ type: "download_chunk", request_id: id, received: 3 }, [new Uint8Array([104, 105, 10])]);
    real.handle({ type: "download_end", request_id: id, bytes: 3 });
    await new Promise((r) => setTimeout(r, 0));
    expect(copied).toEqual(["hi\n"]);
    expect(real.note.textContent).toBe("Copied the whole stderr log (3 B)");

    const failing = createLogExport({ send: (m) => sent.push(m), currentStream: () => "job", copy: async () => {
      throw new Error("denied");
    } });
    failing.buttons[0].click();
    const id2 = sent.at(-1).request_id;
    failing.handle({ type: "download_start", request_id: id2, filename: "t-job.txt", size: 0, mime: "text/plain" });
    failing.handle({ type: "download_end", request_id: id2, bytes: 0 });
    await new Promise((r) => setTimeout(r, 0));
    expect(failing.note.textContent).toBe("Could not copy (denied): use Save log");
    expect(logExportNote({ status: "error", error: "boom", name: "x" }, "save")).toBe("boom");
  });
});
