import { h } from "./dom.js";
import { formatBytes } from "./bytes.js";
import { Downloads, saveBlob } from "./downloads.js";

// "Copy log" and "Save log": the whole log of the stream shown, not the bounded tail the view
// holds. The kernel reads it from the server and sends it with the download messages
// (`download_log`, docs/widget-protocol.md); copying puts its text on the clipboard.

export function logExportNote(st, mode) {
  if (!st) return "";
  switch (st.status) {
    case "pending":
    case "receiving":
      return `Reading the whole ${st.name} log…`;
    case "done":
      if (mode === "copy") return st.copyError ? st.copyError : `Copied the whole ${st.name} log (${formatBytes(st.size)})`;
      return `Saved ${st.filename} (${formatBytes(st.size)})`;
    case "error":
      return st.error;
    case "canceled":
      return "Canceled";
    default:
      return "";
  }
}

async function copyText(blob) {
  const text = await blob.text();
  if (!globalThis.navigator?.clipboard?.writeText) throw new Error("this browser gives no clipboard access");
  await globalThis.navigator.clipboard.writeText(text);
}

export function createLogExport({ send, currentStream, container = null, copy = copyText }) {
  const modes = new Map(); // stream -> "copy" | "save" of its latest request
  const note = h("span", { class: "srw-log-tools-note", "data-testid": "srw-log-note", role: "status" });
  let shown = null;
  const paint = (stream) => {
    shown = stream;
    const st = downloads.state(stream);
    note.textContent = logExportNote(st, modes.get(stream));
    note.classList.toggle("srw-dl-error", st?.status === "error" || Boolean(st?.copyError));
  };
  const downloads = new Downloads({
    send,
    container,
    request: (stream, id) => ({ type: "download_log", stream, request_id: id }),
    onChange: (stream) => paint(stream),
    save: (blob, filename, where, stream) => {
      if (modes.get(stream) !== "copy") return saveBlob(blob, filename, where);
      const st = downloads.state(stream);
      copy(blob).then(
        () => paint(stream),
        (err) => {
          if (st) st.copyError = `Could not copy (${err?.message ?? err}): use Save log`;
          paint(stream);
        },
      );
      return null;
    },
  });
  const start = (mode) => {
    const stream = currentStream();
    if (!stream || downloads.busy(stream)) return;
    modes.set(stream, mode);
    downloads.start(stream);
  };
  const copyButton = h("button", {
    type: "button",
    class: "srw-button srw-log-copy",
    "data-testid": "srw-log-copy",
    title: "Copy the whole log (not only the lines shown) to the clipboard",
    text: "Copy log",
    onclick: () => start("copy"),
  });
  const saveButton = h("button", {
    type: "button",
    class: "srw-button srw-log-save",
    "data-testid": "srw-log-save",
    title: "Save the whole log as a text file",
    text: "Save log",
    onclick: () => start("save"),
  });
  return {
    buttons: [copyButton, saveButton],
    note,
    downloads,
    handle: (msg, buffers) => downloads.handle(msg, buffers),
    // The tab changed: say what concerns the stream now shown.
    showStream: (stream) => paint(stream),
    get shown() {
      return shown;
    },
    dispose: () => downloads.dispose(),
  };
}
