// @ts-check
import { h, frameScheduler } from "./dom.js";
import { createRunHeader } from "./header.js";
import { LogBuffer } from "./logbuffer.js";
import { LogView } from "./logview.js";
import { LogSync } from "./logsync.js";
import { createTabs } from "./tabs.js";
import { Downloads } from "./downloads.js";
import { createOutputsTable } from "./outputs.js";
import { MetricsStore } from "./metrics_data.js";
import { createMetricsArea } from "./metrics_area.js";
import { createFailureGuide } from "./failure.js";
import { KernelSaves } from "./kernel_save.js";
import { createLogExport } from "./log_export.js";
import { createCancelControl } from "./cancel.js";
import { TERMINAL_STATUSES } from "./status.js";
import { createBusyNote } from "./busy_note.js";

export { AnsiStream, lineText, parseLines, renderLine } from "./ansi.js";
export { LogBuffer } from "./logbuffer.js";
export { LogView } from "./logview.js";
export { LogSync } from "./logsync.js";
export { createTabs } from "./tabs.js";
export { createStatusBadge, createElapsed, formatElapsed, statusInfo, STATUSES } from "./status.js";
export { Downloads, saveBlob } from "./downloads.js";
export { createOutputsTable, formatBytes, outputExists, LIST_OUTPUTS_NOTE } from "./outputs.js";
export { progressText, downloadNote, kernelSaveNote } from "./download_text.js";
export { KernelSaves } from "./kernel_save.js";
export { createLogExport, logExportNote } from "./log_export.js";
export { createCancelControl, CANCEL_REQUESTED } from "./cancel.js";
export { highlightMatches, jumpLabel, fitHeight } from "./highlight.js";
export { failureStream, createFailureGuide } from "./failure.js";
export { h, frameScheduler } from "./dom.js";
export { MetricsStore, Series } from "./metrics_data.js";

export const STREAMS = ["stdout", "stderr", "job"];

/** What an empty log says for a run in `status` (point 7's wording: no "yet" once it ended). */
export function emptyLogText(status, startTime) {
  if (!TERMINAL_STATUSES.has(status)) return "No output yet";
  return typeof startTime === "number" ? "No output" : "No output: the step did not run";
}

let instances = 0;

// Builds a StepRunWidget view into `el`; returns the cleanup function.
//
// Logs have two sources and are never added up: the `logs` trait (the bounded tail a saved
// notebook keeps, with the `seq` of the last message it includes) is read once, when the view
// is rendered; after that only messages change the view: `log` continues a stream, and
// `log_snapshot` / `log_reset` replace it. Each carries a per-stream `seq`, so a message the
// trait already holds is skipped and a gap (the trait is refreshed only every few seconds) is
// filled by asking for a snapshot (`sync`); see logsync.js. Later changes of the trait are
// ignored. Once rendered, the view sends `sync` so it catches up with what the trait missed.
// Metrics follow the same scheme (the `metrics` trait, `metric` / `metric_snapshot` messages,
// metrics_data.js); one `sync` serves both.
export function renderStepWidget({ model, el, options = {} }) {
  instances += 1;
  const panelId = `srw-${instances}-${Math.random().toString(36).slice(2, 8)}-log`;
  const cleanups = [];
  const listen = (event, fn) => {
    model.on(event, fn);
    cleanups.push(() => model.off(event, fn));
  };

  // every request of a click goes through `send`, so a busy kernel is said at once (busy_note.js)
  const busy = createBusyNote({ prefix: "srw" });
  cleanups.push(() => busy.dispose());
  const send = (msg) => {
    busy.sent(msg);
    model.send(msg);
  };

  const reuseText = h("span");
  const reuse = h(
    "span",
    { class: "srw-reuse", "data-testid": "srw-reuse", hidden: true },
    h("span", { class: "srw-reuse-icon", "aria-hidden": "true", text: "♻" }),
    reuseText,
  );
  const cancel = createCancelControl({ send, prefix: "srw", kind: "step run" });
  const header = createRunHeader({ prefix: "srw", fallbackName: "(unnamed step)", extra: [reuse, cancel.button] });

  const buffers = Object.fromEntries(STREAMS.map((s) => [s, new LogBuffer(options.log)]));
  const view = new LogView({
    ...options.view,
    onRequestOlder: (stream, beforeLine, count) =>
      send({ type: "older_lines", stream, before_line: beforeLine, count }),
  });
  const logExport = createLogExport({ send, currentStream: () => tabs?.selected });
  view.tools.append(...logExport.buttons, logExport.note);
  const panel = h("div", { class: "srw-panel", role: "tabpanel", id: panelId }, view.el);
  const tabs = createTabs({
    names: STREAMS,
    panelId,
    onSelect: (stream) => {
      view.setBuffer(buffers[stream], stream);
      panel.setAttribute("aria-labelledby", tabs.tabId(stream));
      failure?.selected();
      logExport.showStream(stream);
    },
  });
  const lineCounts = () => Object.fromEntries(STREAMS.map((s) => [s, buffers[s].shownLines]));
  const failure = createFailureGuide({ tabs, counts: lineCounts, onShow: () => view.scroller.focus() });
  const error = failure.el;
  const counts = frameScheduler(() => {
    for (const s of STREAMS) tabs.setCount(s, buffers[s].shownLines);
    failure.refresh();
  });
  for (const s of STREAMS) cleanups.push(buffers[s].subscribe(() => counts.schedule()));

  const root = h("div", { class: "srw-root srw-step" });
  const downloads = new Downloads({
    send,
    onChange: (outputName) => outputsTable.refresh(outputName),
    container: root,
  });
  const saves = new KernelSaves({
    send,
    onChange: (outputName) => outputsTable.refresh(outputName),
  });
  const outputsTable = createOutputsTable({ downloads, saves, onList: () => send({ type: "list_outputs" }) });
  const logSync = new LogSync({ buffers, send: (msg) => model.send(msg) });
  const metrics = new MetricsStore({ sync: () => logSync.sync() });
  const metricsArea = createMetricsArea({ store: metrics, themeRoot: root });

  root.append(
    header.el,
    cancel.panel,
    error,
    header.connection,
    busy.el,
    metricsArea.el,
    h("div", { class: "srw-logs" }, tabs.el, panel),
    outputsTable.el,
  );

  const paint = {
    reuse() {
      const r = model.get("reuse");
      const id = r && typeof r === "object" ? r.run_id : null;
      reuse.hidden = !id;
      reuseText.textContent = id ? `Reused results of run ${id}` : "";
      reuse.title = id
        ? `Original run ${id}, node ${r.node_id ?? "?"}, pipeline run ${r.pipeline_run_id ?? "?"}`
        : "";
    },
    error() {
      failure.update({ status: model.get("status"), error: model.get("error") });
    },
    outputs() {
      outputsTable.update(model.get("outputs"), model.get("status"), Boolean(model.get("outputs_on_request")));
    },
    params() {
      metricsArea.setParams(model.get("params"));
    },
    images() {
      metricsArea.setImages(model.get("images"));
    },
    cancel() {
      cancel.update({ status: model.get("status"), name: model.get("name") });
    },
    emptyLog() {
      view.setEmptyText(emptyLogText(model.get("status"), model.get("start_time")));
    },
  };
  header.bind(model, listen);
  const traits = {
    reuse: ["reuse"],
    error: ["error", "status"],
    outputs: ["outputs", "status", "outputs_on_request"],
    params: ["params"],
    images: ["images"],
    cancel: ["status", "name"],
    emptyLog: ["status", "start_time"],
  };
  for (const [part, names] of Object.entries(traits)) {
    paint[part]();
    for (const trait of names) listen(`change:${trait}`, paint[part]);
  }

  logSync.load(model.get("logs"));
  metrics.load(model.get("metrics"));
  listen("change:metrics", () => {
    metrics.load(model.get("metrics"), false);
    metricsArea.changed(); // descriptions may be new even where the points are not
  });

  listen("change:outputs_on_request", () => busy.answered()); // the answer to list_outputs
  listen("msg:custom", (msg, messageBuffers) => {
    if (!msg || typeof msg !== "object") return;
    busy.received(msg);
    const buffer = STREAMS.includes(msg.stream) ? buffers[msg.stream] : null;
    switch (msg.type) {
      case "log":
        logSync.log(msg.stream, msg.text, msg.seq);
        break;
      case "log_snapshot":
        logSync.snapshot(msg.stream, msg.tail, msg.first_line, msg.seq);
        break;
      case "log_reset":
        logSync.reset(msg.stream, msg.seq);
        break;
      case "metric":
        if (metrics.metric(msg.name, msg.points, msg.seq)) metricsArea.changed();
        break;
      case "metric_snapshot":
        if (metrics.snapshot(msg.name, msg.points, msg.count, msg.seq)) metricsArea.changed();
        break;
      case "older_lines":
        buffer?.prepend(msg.start_line, msg.lines);
        break;
      case "sync_done": // the kernel answers: the view is live, its controls can act
        cancel.setLive(true);
        break;
      case "list_outputs_error":
        outputsTable.listFailed(msg.message);
        break;
      default:
        if (cancel.handle(msg)) break;
        if (msg.type === "save_local_done" || msg.type === "save_local_error") saves.handle(msg);
        else if (typeof msg.type === "string" && msg.type.startsWith("download_")) {
          if (!logExport.handle(msg, messageBuffers)) downloads.handle(msg, messageBuffers);
        }
    }
  });

  const notLive = () => cancel.setLive(false); // the loader found the kernel gone
  el.addEventListener("srw-not-live", notLive);
  cleanups.push(() => el.removeEventListener("srw-not-live", notLive));

  failure.start("stdout");
  counts.flush();
  el.append(root);
  view.flush();
  metricsArea.flush();
  logSync.sync();
  metrics.expectSnapshots();

  return {
    root,
    // Renders pending changes now instead of at the next animation frame.
    flush() {
      counts.flush();
      view.flush();
      metricsArea.flush();
    },
    view,
    buffers,
    logSync,
    tabs,
    downloads,
    metrics,
    metricsArea,
    saves,
    logExport,
    cancel,
    dispose() {
      for (const fn of cleanups) fn();
      counts.dispose();
      view.dispose();
      header.dispose();
      downloads.dispose();
      metricsArea.dispose();
      logExport.dispose();
      root.remove();
    },
  };
}

export default {
  render({ model, el }) {
    return renderStepWidget({ model, el }).dispose;
  },
};
