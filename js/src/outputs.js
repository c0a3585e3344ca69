import { h } from "./dom.js";
import { formatBytes } from "./bytes.js";
import { downloadNote, kernelSaveNote } from "./download_text.js";

export { formatBytes };

const TERMINAL = new Set(["Finished", "Failed", "Canceled"]);
const SAVE_TITLE = "Save into the kernel's working folder (beside the notebook on JupyterHub)";

// True once an output exists on the server (the kernel lists declared outputs with a null size
// while the step runs): only then is it offered for download.
export const outputExists = (out) => typeof out?.size === "number" && Number.isFinite(out.size);

export const LIST_OUTPUTS_NOTE = "Not listed: this run of another tool declares none, and listing them asks the server once per folder.";

// Table of outputs: name, size, file count, the download and save-in-kernel buttons; under each
// row a line for progress, the result or an error, so the columns never move and a long message
// wraps inside the widget. `saves` (kernel_save.js) is optional. The outputs of a run of another
// tool are listed only when asked: `update(..., onRequest = true)` shows a "List outputs" button
// that calls `onList()` (the step view sends `list_outputs`); the kernel answers with the
// `outputs` trait, or with an error for `listFailed(message)`.
export function createOutputsTable({ downloads, saves = null, onList = null }) {
  const body = h("tbody");
  const emptyCell = h("td", { colspan: "4", text: "No outputs yet" });
  const empty = h("tr", { class: "srw-out-empty" }, emptyCell);
  const listButton = h("button", {
    type: "button",
    class: "srw-button srw-list-outputs",
    "data-testid": "srw-list-outputs",
    text: "List outputs",
    onclick: () => list(),
  });
  const listError = h("span", {
    class: "srw-dl-message srw-dl-error",
    role: "status",
    "data-testid": "srw-list-outputs-error",
    hidden: true,
  });
  const listRow = h(
    "tr",
    { class: "srw-out-list" },
    h("td", { colspan: "4" }, h("span", { class: "srw-out-list-note", text: LIST_OUTPUTS_NOTE }), " ", listButton, " ", listError),
  );
  let listing = false;
  const table = h(
    "table",
    { class: "srw-outputs", "data-testid": "srw-outputs" },
    h("caption", { class: "srw-caption", text: "Outputs" }),
    h(
      "colgroup",
      {},
      h("col", { class: "srw-col-name" }),
      h("col", { class: "srw-col-size" }),
      h("col", { class: "srw-col-files" }),
      h("col", { class: "srw-col-action" }),
    ),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col", text: "Name" }),
        h("th", { scope: "col", class: "srw-num", text: "Size" }),
        h("th", { scope: "col", class: "srw-num", text: "Files" }),
        h("th", { scope: "col" }, h("span", { class: "srw-sr-only", text: "Download" })),
      ),
    ),
    body,
  );
  const el = h("div", { class: "srw-table-scroll" }, table);
  const rows = new Map();

  function makeRow(name) {
    const nameText = h("span", { class: "srw-out-name-text" });
    const kind = h("span", { class: "srw-out-kind" });
    const size = h("td", { class: "srw-num srw-out-size" });
    const files = h("td", { class: "srw-num srw-out-files" });
    const button = h("button", {
      type: "button",
      class: "srw-button srw-download",
      "data-testid": `srw-download-${name}`,
      text: "Download",
      onclick: () => downloads.start(name),
    });
    const save = h("button", {
      type: "button",
      class: "srw-button srw-save-local",
      "data-testid": `srw-save-local-${name}`,
      text: "Save to kernel",
      title: SAVE_TITLE,
      "aria-label": `Save ${name} into the kernel's working folder`,
      onclick: () => saves?.start(name),
    });
    const pending = h("span", { class: "srw-out-pending", text: "when the step ends" });
    const actions = h("td", { class: "srw-out-action" });
    // Present only while this output downloads, so the srw-progress hook finds the live one.
    const progress = h("progress", {
      class: "srw-progress",
      "data-testid": "srw-progress",
      "aria-label": `Downloading ${name}`,
    });
    const cancel = h("button", {
      type: "button",
      class: "srw-button srw-cancel",
      "data-testid": `srw-cancel-${name}`,
      "aria-label": `Cancel download of ${name}`,
      text: "Cancel",
      onclick: () => downloads.cancel(name),
    });
    const message = h("span", { class: "srw-dl-message", role: "status" });
    const saveMessage = h("span", { class: "srw-dl-message srw-save-message", role: "status" });
    const noteCell = h("td", { colspan: "4" }, message, saveMessage);
    const note = h("tr", { class: "srw-out-note", hidden: true }, noteCell);
    const tr = h(
      "tr",
      { class: "srw-out-row" },
      h("td", { class: "srw-out-name" }, nameText, kind),
      size,
      files,
      actions,
    );
    return { tr, note, noteCell, nameText, kind, size, files, actions, button, save, pending, progress, cancel,
      message, saveMessage, exists: null, isDir: false };
  }

  function refresh(name) {
    const row = rows.get(name);
    if (!row) return;
    const st = downloads.state(name);
    const active = st?.status === "pending" || st?.status === "receiving";
    row.button.disabled = active;
    row.button.setAttribute("aria-busy", String(active));
    if (!active) {
      const hadFocus = row.cancel === document.activeElement;
      row.progress.remove();
      row.cancel.remove();
      if (hadFocus && row.button.isConnected) row.button.focus(); // keep keyboard focus in the row
    } else {
      if (!row.progress.parentNode) row.noteCell.prepend(row.progress);
      if (!row.cancel.parentNode) row.message.after(row.cancel);
      if (st.size != null && st.size > 0) {
        row.progress.max = st.size;
        row.progress.value = Math.min(st.received, st.size);
      } else {
        row.progress.removeAttribute("value"); // indeterminate
      }
    }
    const failed = st?.status === "error";
    row.message.classList.toggle("srw-dl-error", failed);
    if (failed) row.message.setAttribute("data-testid", "srw-download-error");
    else row.message.removeAttribute("data-testid");
    row.message.textContent = downloadNote(st, row.isDir);
    row.message.hidden = !row.message.textContent;

    const sv = saves?.state(name) ?? null;
    row.save.disabled = sv?.status === "saving";
    row.saveMessage.classList.toggle("srw-dl-error", sv?.status === "error");
    row.saveMessage.setAttribute("data-testid", `srw-save-local-message-${name}`);
    row.saveMessage.textContent = kernelSaveNote(sv);
    row.saveMessage.hidden = !row.saveMessage.textContent;
    row.note.hidden = row.message.hidden && row.saveMessage.hidden && !active;
  }

  function paintActions(row, name, exists) {
    if (row.exists === exists) return;
    row.exists = exists;
    if (exists) row.actions.replaceChildren(row.button, ...(saves ? [row.save] : []));
    else row.actions.replaceChildren(row.pending);
    row.pending.title = exists ? "" : `${name} is offered for download once the step has written it`;
  }

  function paintListing() {
    listButton.disabled = listing;
    listButton.setAttribute("aria-busy", String(listing));
    listButton.textContent = listing ? "Listing…" : "List outputs";
  }

  function list() {
    if (listing || !onList) return;
    listing = true;
    listError.hidden = true;
    paintListing();
    onList();
  }

  function listFailed(message) {
    listing = false;
    listError.textContent = typeof message === "string" && message ? message : "Listing the outputs failed";
    listError.hidden = false;
    paintListing();
  }

  function update(outputs, status, onRequest = false) {
    if (onRequest) {
      for (const row of rows.values()) {
        row.tr.remove();
        row.note.remove();
      }
      rows.clear();
      empty.remove();
      body.append(listRow);
      return;
    }
    if (listRow.isConnected || listing) {
      listRow.remove();
      listing = false;
      listError.hidden = true;
      paintListing();
    }
    const list = Array.isArray(outputs) ? outputs : [];
    const seen = new Set();
    for (const out of list) {
      const name = typeof out?.name === "string" ? out.name : String(out?.name ?? "");
      if (seen.has(name)) continue;
      seen.add(name);
      let row = rows.get(name);
      if (!row) {
        row = makeRow(name);
        rows.set(name, row);
        row.nameText.textContent = name;
      }
      const isDir = Boolean(out.is_dir);
      const exists = outputExists(out);
      row.isDir = isDir;
      row.kind.textContent = isDir ? "/" : "";
      row.kind.title = isDir ? "folder" : "";
      row.nameText.title = isDir ? `${name}/ (a folder: downloads as ${name}.zip)` : name;
      row.size.textContent = formatBytes(out.size);
      row.size.title = exists ? `${out.size} bytes` : "not written yet";
      row.files.textContent = Number.isFinite(out.file_count) ? String(out.file_count) : "—";
      row.button.textContent = isDir ? "Download .zip" : "Download";
      row.button.setAttribute("aria-label", isDir ? `Download ${name} as zip` : `Download ${name}`);
      paintActions(row, name, exists);
      refresh(name);
      body.append(row.tr, row.note); // re-appending keeps the server's order
    }
    for (const [name, row] of rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        row.note.remove();
        rows.delete(name);
      }
    }
    emptyCell.textContent = TERMINAL.has(status) ? "No outputs" : "No outputs yet";
    if (rows.size === 0) body.append(empty);
    else empty.remove();
  }

  return { el, table, update, refresh, listFailed };
}
