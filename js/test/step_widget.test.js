import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import widget, { emptyLogText, renderStepWidget } from "../src/step_widget.js";
import { FakeLogKernel, FakeModel, allLines, byTestId, visibleLines } from "./fake-model.js";

const XSS = "<img src=x onerror=alert(1)>";
let mounted = [];

function mount(state = {}) {
  const model = new FakeModel(state);
  const el = document.createElement("div");
  document.body.append(el);
  const handle = renderStepWidget({ model, el });
  mounted.push(handle);
  const flush = () => handle.flush();
  const get = (id) => byTestId(el, id);
  return { model, el, handle, flush, get };
}

beforeEach(() => {
  mounted = [];
});

afterEach(() => {
  for (const h of mounted) h.dispose();
  document.body.textContent = "";
  vi.useRealTimers();
});

describe("StepRunWidget", () => {
  it("says why an empty log is empty: yet while it may write, not once it ended", () => {
    expect(emptyLogText("Running", 1)).toBe("No output yet");
    expect(emptyLogText("Queued", null)).toBe("No output yet");
    expect(emptyLogText("Finished", 1)).toBe("No output");
    expect(emptyLogText("Canceled", null)).toBe("No output: the step did not run");
    const { model, el, flush } = mount({ status: "Running", start_time: Date.now() });
    const empty = () => el.querySelector("[data-empty]")?.dataset.empty;
    flush();
    expect(empty()).toBe("No output yet");
    model.set("status", "Canceled");
    model.set("start_time", null);
    flush();
    expect(empty()).toBe("No output: the step did not run");
  });

  it("renders through anywidget's render() and cleans up", () => {
    const model = new FakeModel({ start_time: Date.now() - 1000 });
    const el = document.createElement("div");
    const cleanup = widget.render({ model, el });
    expect(typeof cleanup).toBe("function");
    expect(el.querySelector(".srw-root")).not.toBeNull();
    expect(model.listenerCount()).toBeGreaterThan(0);
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".srw-root")).toBeNull();
  });

  it("shows status, name, run id and updates them on change", () => {
    const { model, get, el } = mount({ status: "Queued", name: "prep" });
    expect(get("srw-status").textContent).toBe("Queued");
    expect(el.textContent).toContain("prep");
    model.set("status", "Failed");
    expect(get("srw-status").textContent).toBe("Failed");
    expect(get("srw-status").getAttribute("role")).toBe("status");
  });

  it("ticks the elapsed time and stops on cleanup", () => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
    const { model, get, handle } = mount({ start_time: 1_000_000 - 5000, end_time: null });
    expect(get("srw-elapsed").textContent).toBe("5s");
    vi.advanceTimersByTime(3000);
    expect(get("srw-elapsed").textContent).toBe("8s");
    model.set("end_time", 1_000_000 - 1000);
    expect(get("srw-elapsed").textContent).toBe("4s");
    model.set("end_time", null);
    handle.dispose();
    mounted = [];
    expect(vi.getTimerCount()).toBe(0);
  });

  it("shows the error line, the connection state and the reuse badge", () => {
    const { model, get } = mount();
    expect(get("srw-error").hidden).toBe(true);
    expect(get("srw-connection").hidden).toBe(true);
    expect(get("srw-reuse").hidden).toBe(true);
    model.set("error", "exit code 3");
    model.set("connection_detail", "connection refused");
    model.set("connection", "reconnecting");
    model.set("reuse", { run_id: "orig-42", node_id: "n1", pipeline_run_id: "p0" });
    expect(get("srw-error").hidden).toBe(false);
    expect(get("srw-error").textContent).toBe("exit code 3");
    expect(get("srw-connection").textContent).toBe("reconnecting… — connection refused");
    expect(get("srw-reuse").textContent).toContain("orig-42");
    model.set("connection", "ok");
    expect(get("srw-connection").hidden).toBe(true);
  });

  it("renders server text as text everywhere (no injected elements)", () => {
    const { model, el, flush, get, handle } = mount({
      name: XSS,
      run_id: XSS,
      error: XSS,
      connection: "reconnecting",
      connection_detail: XSS,
      reuse: { run_id: XSS, node_id: XSS, pipeline_run_id: XSS },
      outputs: [{ name: XSS, size: 10, file_count: 1, is_dir: false }],
      logs: { stdout: { tail: `${XSS}\n`, first_line: 0, total_bytes: 30, seq: 1 } },
      status: XSS,
    });
    model.emit({ type: "log", stream: "stdout", text: `\x1b[31m${XSS}\x1b[0m\n`, seq: 2 });
    model.emit({ type: "log", stream: "stderr", text: `${XSS}\n`, seq: 1 });
    model.emit({ type: "log_snapshot", stream: "job", tail: `${XSS}\n`, first_line: 0, seq: 1 });
    const id = handle.downloads.start(XSS);
    model.emit({ type: "download_error", request_id: id, message: XSS });
    flush();
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("[onerror]")).toBeNull();
    expect(get("srw-error").textContent).toBe(XSS);
    expect(el.querySelector(".srw-name").textContent).toBe(XSS);
    expect(visibleLines(el)).toEqual([XSS, XSS]);
    get("srw-tab-job").click();
    flush();
    expect(visibleLines(el)).toEqual([XSS]);
    expect(el.querySelector("img")).toBeNull();
    expect(get(`srw-download-${XSS}`)).not.toBeNull();
    expect(el.querySelector(".srw-out-name").textContent).toBe(XSS);
    expect(get("srw-download-error").textContent).toBe(XSS);
  });

  it("takes the tail from the logs trait at render, then appends log messages", () => {
    const { model, el, flush, get } = mount({
      logs: {
        stdout: { tail: "l100\nl101\npart", first_line: 100, total_bytes: 999, seq: 7 },
        stderr: { tail: "e0\n", first_line: 0, total_bytes: 3, seq: 1 },
      },
    });
    flush();
    expect(visibleLines(el)).toEqual(["l100", "l101", "part"]);
    model.emit({ type: "log", stream: "stdout", text: "ial\nl103\n", seq: 8 });
    flush();
    expect(visibleLines(el)).toEqual(["l100", "l101", "partial", "l103"]);
    expect(get("srw-tab-stdout").textContent).toContain("104");
  });

  it("does not double lines when the logs trait changes later", () => {
    const { model, el, flush } = mount({
      logs: { stdout: { tail: "a\n", first_line: 0, total_bytes: 2, seq: 1 } },
    });
    model.emit({ type: "log", stream: "stdout", text: "b\n", seq: 2 });
    model.set("logs", { stdout: { tail: "a\nb\nc\n", first_line: 0, total_bytes: 6, seq: 3 } });
    flush();
    expect(visibleLines(el)).toEqual(["a", "b"]);
  });

  it("sends one sync once it has rendered", () => {
    const model = new FakeModel({ logs: { stdout: { tail: "a\n", first_line: 0, total_bytes: 2, seq: 1 } } });
    const el = document.createElement("div");
    document.body.append(el);
    const seen = [];
    model.send = (msg) => {
      model.sent.push(msg);
      seen.push([...el.querySelectorAll(".srw-line")].map((row) => row.textContent));
    };
    mounted.push(renderStepWidget({ model, el }));
    expect(model.sent).toEqual([{ type: "sync" }]);
    expect(seen).toEqual([["a"]]); // the view was in the page, drawn from the trait
  });

  it("skips a message the trait already holds (view drawn after the trait update)", () => {
    const { model, el, flush, get } = mount({
      logs: { stdout: { tail: "a\nb\n", first_line: 0, total_bytes: 4, seq: 2 } },
    });
    model.emit({ type: "log", stream: "stdout", text: "b\n", seq: 2 });
    model.emit({ type: "log", stream: "stdout", text: "c\n", seq: 3 });
    flush();
    expect(visibleLines(el)).toEqual(["a", "b", "c"]);
    expect(get("srw-tab-stdout").textContent).toContain("3");
  });

  it("fills a gap from a snapshot (view drawn from a trait that is behind the messages)", () => {
    const { model, el, flush } = mount({
      logs: { stdout: { tail: "a\n", first_line: 0, total_bytes: 2, seq: 1 } },
    });
    model.emit({ type: "log", stream: "stdout", text: "c\n", seq: 3 }); // seq 2 came before the view
    model.emit({ type: "log", stream: "stdout", text: "d\n", seq: 4 });
    flush();
    expect(visibleLines(el)).toEqual(["a"]);
    expect(model.sent).toEqual([{ type: "sync" }]); // the render-time sync answers this gap too
    model.emit({ type: "log_snapshot", stream: "stdout", tail: "a\nb\nc\nd\n", first_line: 0, seq: 4 });
    model.emit({ type: "log", stream: "stdout", text: "e\n", seq: 5 });
    flush();
    expect(visibleLines(el)).toEqual(["a", "b", "c", "d", "e"]);
    model.emit({ type: "log", stream: "stdout", text: "g\n", seq: 7 }); // a new gap: a new sync
    model.emit({ type: "log", stream: "stdout", text: "h\n", seq: 8 });
    expect(model.sent).toEqual([{ type: "sync" }, { type: "sync" }]);
  });

  it("takes a newer snapshot in place of the lines and ignores one it already has", () => {
    const { model, el, flush, get } = mount({
      logs: { stdout: { tail: "a\nb\n", first_line: 0, total_bytes: 4, seq: 2 } },
    });
    model.emit({ type: "log_snapshot", stream: "stdout", tail: "x\n", first_line: 0, seq: 2 });
    flush();
    expect(visibleLines(el)).toEqual(["a", "b"]);
    model.emit({ type: "log_snapshot", stream: "stdout", tail: "l5000\nl5001\nhalf", first_line: 5000, seq: 3 });
    flush();
    expect(visibleLines(el)).toEqual(["l5000", "l5001", "half"]);
    expect(get("srw-tab-stdout").textContent).toContain("5,003");
    expect(get("srw-older").hidden).toBe(false);
  });

  it("brings every view to the kernel's text, whenever it was drawn", () => {
    const model = new FakeModel();
    const kernel = new FakeLogKernel(model);
    const views = [];
    const addView = () => {
      const el = document.createElement("div");
      document.body.append(el);
      const handle = renderStepWidget({ model, el });
      mounted.push(handle);
      views.push(handle);
    };
    let seed = 12345; // mulberry32: the same sequence on every run
    const rand = (n) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const streams = ["stdout", "stderr", "job"];
    let line = 0;
    addView();
    for (let step = 0; step < 400; step++) {
      const stream = streams[rand(3)];
      const r = rand(100);
      if (r < 70) kernel.write(stream, rand(4) === 0 ? `part ${line++} ` : `line ${line++}\n`);
      else if (r < 80) kernel.refreshTrait();
      else if (r < 88) kernel.answerSyncs();
      else if (r < 95) addView();
      else if (r < 97) kernel.reset(stream);
      else {
        // A view drawn between a trait update and the message the trait already holds.
        const msg = kernel.write(stream, `race ${line++}\n`, { deliver: false });
        kernel.refreshTrait();
        addView();
        model.emit(msg);
      }
      // A view may be behind while it waits for a snapshot, but never shows wrong lines.
      for (const v of views) {
        for (const s of streams) expect(allLines(v.buffers[s])).toEqual(kernel.linesAt(s, v.logSync.lastSeq(s)));
      }
    }
    kernel.answerSyncs();
    for (const s of streams) kernel.write(s, "last\n");
    kernel.answerSyncs(); // the last messages may have been gaps for a view still waiting
    expect(views.length).toBeGreaterThan(10);
    for (const s of streams) {
      for (const v of views) expect(allLines(v.buffers[s])).toEqual(kernel.linesAt(s));
    }
    // Syncs: one per view at render, plus at most one per view and stream for a gap.
    expect(model.sent.filter((m) => m.type === "sync").length).toBeLessThanOrEqual(views.length * 4);
  });

  it("clears a stream on log_reset and keeps the others", () => {
    const { model, el, flush, get } = mount();
    model.emit({ type: "log", stream: "stdout", text: "old 1\nold 2\n", seq: 1 });
    model.emit({ type: "log", stream: "job", text: "job line\n", seq: 1 });
    model.emit({ type: "log_reset", stream: "stdout", seq: 2 });
    model.emit({ type: "log", stream: "stdout", text: "new\n", seq: 3 });
    flush();
    expect(visibleLines(el)).toEqual(["new"]);
    get("srw-tab-job").click();
    flush();
    expect(visibleLines(el)).toEqual(["job line"]);
  });

  it("has tabs with counts, aria-selected and arrow-key switching", () => {
    const { model, el, flush, get } = mount();
    model.emit({ type: "log", stream: "stderr", text: "warn 1\nwarn 2\n", seq: 1 });
    flush();
    const tabs = ["stdout", "stderr", "job"].map((s) => get(`srw-tab-${s}`));
    for (const t of tabs) {
      expect(t.tagName).toBe("BUTTON");
      expect(t.getAttribute("role")).toBe("tab");
    }
    expect(tabs[0].getAttribute("aria-selected")).toBe("true");
    expect(tabs[0].tabIndex).toBe(0);
    expect(tabs[1].tabIndex).toBe(-1);
    tabs[0].focus();
    tabs[0].dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    flush();
    expect(tabs[1].getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe(tabs[1]);
    expect(visibleLines(el)).toEqual(["warn 1", "warn 2"]);
    tabs[1].dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft", bubbles: true }));
    tabs[0].dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft", bubbles: true }));
    expect(tabs[2].getAttribute("aria-selected")).toBe("true");
    const panel = el.querySelector('[role="tabpanel"]');
    expect(tabs[2].getAttribute("aria-controls")).toBe(panel.id);
    expect(get("srw-log").getAttribute("role")).toBe("log");
  });

  it("requests earlier lines with the protocol message and prepends the answer", () => {
    const { model, el, flush, get } = mount({
      logs: { stdout: { tail: "l3\nl4\n", first_line: 3, total_bytes: 6 } },
    });
    flush();
    get("srw-older").click();
    expect(model.sent.at(-1)).toEqual({ type: "older_lines", stream: "stdout", before_line: 3, count: 3 });
    model.emit({ type: "older_lines", stream: "stdout", start_line: 0, lines: ["l0", "l1", "l2"] });
    flush();
    expect(visibleLines(el)).toEqual(["l0", "l1", "l2", "l3", "l4"]);
    expect(get("srw-older").hidden).toBe(true);
  });

  it("lists outputs with human-readable sizes and downloads through the kernel", async () => {
    const saved = [];
    vi.spyOn(URL, "createObjectURL").mockImplementation((blob) => {
      saved.push(blob);
      return "blob:x";
    });
    vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => {});
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    const { model, el, get } = mount({
      outputs: [
        { name: "model", size: 1536, file_count: 1, is_dir: false },
        { name: "plots", size: 5 * 1024 * 1024, file_count: 12, is_dir: true },
      ],
    });
    const rows = [...get("srw-outputs").querySelectorAll("tbody tr.srw-out-row")];
    expect(rows.map((r) => [...r.cells].slice(0, 3).map((c) => c.textContent))).toEqual([
      ["model", "1.5 KiB", "1"],
      ["plots/", "5.0 MiB", "12"],
    ]);
    const button = get("srw-download-plots");
    expect(button.getAttribute("aria-label")).toBe("Download plots as zip");
    button.click();
    const request = model.sent.at(-1);
    expect(request).toMatchObject({ type: "download", output: "plots" });
    expect(button.disabled).toBe(true);
    const id = request.request_id;
    model.emit({ type: "download_start", request_id: id, filename: "plots.zip", size: 4, mime: "application/zip" });
    model.emit({ type: "download_chunk", request_id: id, received: 2 }, [new DataView(new Uint8Array([1, 2]).buffer)]);
    const progress = get("srw-progress");
    expect(progress.hidden).toBe(false);
    expect(progress.value).toBe(2);
    expect(progress.max).toBe(4);
    expect(model.sent.at(-1)).toEqual({ type: "download_ack", request_id: id, received: 2 });
    model.emit({ type: "download_chunk", request_id: id, received: 4 }, [new DataView(new Uint8Array([3, 4]).buffer)]);
    expect(model.sent.at(-1)).toEqual({ type: "download_ack", request_id: id, received: 4 });
    model.emit({ type: "download_end", request_id: id, bytes: 4 });
    expect(saved).toHaveLength(1);
    expect([...new Uint8Array(await saved[0].arrayBuffer())]).toEqual([1, 2, 3, 4]);
    expect(button.disabled).toBe(false);
    expect(get("srw-progress")).toBeNull();
    vi.restoreAllMocks();
  });

  it("acknowledges chunks only in the view that asked for the download", () => {
    const { model, get } = mount({ outputs: [{ name: "model", size: 4, file_count: 1, is_dir: false }] });
    const el2 = document.createElement("div");
    document.body.append(el2);
    mounted.push(renderStepWidget({ model, el: el2 }));
    get("srw-download-model").click();
    const id = model.sent.at(-1).request_id;
    model.emit({ type: "download_start", request_id: id, filename: "model", size: 4, mime: "" });
    model.emit({ type: "download_chunk", request_id: id, received: 2 }, [new Uint8Array([1, 2])]);
    expect(model.sent.filter((m) => m.type === "download_ack")).toEqual([
      { type: "download_ack", request_id: id, received: 2 },
    ]);
    expect(byTestId(el2, "srw-progress")).toBeNull();
  });

  it("has a cancel button while a download runs", () => {
    const { model, get } = mount({ outputs: [{ name: "model", size: 4, file_count: 1, is_dir: false }] });
    expect(get("srw-cancel-model")).toBeNull();
    get("srw-download-model").click();
    const id = model.sent.at(-1).request_id;
    const cancel = get("srw-cancel-model");
    expect(cancel.tagName).toBe("BUTTON");
    expect(cancel.getAttribute("aria-label")).toBe("Cancel download of model");
    model.emit({ type: "download_start", request_id: id, filename: "model", size: 4, mime: "" });
    model.emit({ type: "download_chunk", request_id: id, received: 2 }, [new Uint8Array([1, 2])]);
    cancel.focus();
    cancel.click();
    expect(model.sent.at(-1)).toEqual({ type: "download_cancel", request_id: id });
    expect(get("srw-cancel-model")).toBeNull();
    expect(get("srw-progress")).toBeNull();
    expect(get("srw-download-model").disabled).toBe(false);
    expect(document.activeElement).toBe(get("srw-download-model"));
    expect(get("srw-outputs").textContent).toContain("Canceled");
    model.emit({ type: "download_error", request_id: id, message: "Download of 'model' failed: download canceled" });
    expect(get("srw-download-error")).toBeNull();
  });

  it("shows a download_error message in the output's row", () => {
    const { model, get } = mount({ outputs: [{ name: "model", size: 1, file_count: 1, is_dir: false }] });
    get("srw-download-model").click();
    const id = model.sent.at(-1).request_id;
    model.emit({ type: "download_error", request_id: id, message: "output 'model' not found on run r1" });
    expect(get("srw-download-error").textContent).toBe("output 'model' not found on run r1");
    expect(get("srw-download-model").disabled).toBe(false);
  });

  it("keeps a download going when the outputs list is refreshed", () => {
    const outputs = [{ name: "model", size: 10, file_count: 1, is_dir: false }];
    const { model, get } = mount({ outputs });
    get("srw-download-model").click();
    model.set("outputs", [...outputs, { name: "extra", size: 0, file_count: 0, is_dir: false }]);
    expect(get("srw-download-model").disabled).toBe(true);
    model.set("outputs", []);
    expect(get("srw-download-model")).toBeNull();
    expect(get("srw-outputs").textContent).toContain("No outputs");
  });

  it("keeps the log DOM bounded when 100,000 lines stream in", () => {
    const { model, el, flush, get } = mount();
    for (let k = 0; k < 100; k++) {
      let text = "";
      for (let i = 0; i < 1000; i++) text += `line ${k * 1000 + i}\n`;
      model.emit({ type: "log", stream: "stdout", text, seq: k + 1 });
    }
    flush();
    expect(get("srw-log").querySelectorAll("*").length).toBeLessThan(500);
    expect(visibleLines(el).at(-1)).toBe("line 99999");
    expect(get("srw-tab-stdout").textContent).toContain("100,000");
  });
});
