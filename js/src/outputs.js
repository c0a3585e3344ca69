import { h } from "./dom.js";

// 0 -> "0 B", 1536 -> "1.5 KiB", 5_000_000 -> "4.8 MiB".
export function formatBytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0) return "—";
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i += 1;
  } while (v >= 1024 && i < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : String(Math.round(v))} ${units[i]}`;
}

// Table of outputs: name, size, file count and a download button with progress and errors.
export function createOutputsTable({ downloads }) {
  const body = h("tbody");
  const empty = h("tr", { class: "srw-out-empty" }, h("td", { colspan: "4", text: "No outputs yet" }));
  const table = h(
    "table",
    { class: "srw-outputs", "data-testid": "srw-outputs" },
    h("caption", { class: "srw-caption", text: "Outputs" }),
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
    const tr = h(
      "tr",
      { class: "srw-out-row" },
      h("td", { class: "srw-out-name" }, nameText, kind),
      size,
      files,
      h("td", { class: "srw-out-action" }, button, message),
    );
    return { tr, nameText, kind, size, files, button, progress, cancel, message };
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
      if (hadFocus) row.button.focus(); // do not drop keyboard focus with the removed button
    } else {
      if (!row.progress.parentNode) row.button.after(row.progress);
      if (!row.cancel.parentNode) row.progress.after(row.cancel);
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
    const note = st?.status === "done" ? "Saved" : st?.status === "canceled" ? "Canceled" : "";
    row.message.textContent = failed ? st.error : note;
  }

  function update(outputs) {
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
        refresh(name);
      }
      const isDir = Boolean(out.is_dir);
      row.kind.textContent = isDir ? "/" : "";
      row.kind.title = isDir ? "folder" : "";
      row.size.textContent = formatBytes(out.size);
      row.size.title = Number.isFinite(out.size) ? `${out.size} bytes` : "";
      row.files.textContent = Number.isFinite(out.file_count) ? String(out.file_count) : "—";
      row.button.setAttribute("aria-label", isDir ? `Download ${name} as zip` : `Download ${name}`);
      body.append(row.tr); // re-appending keeps the server's order
    }
    for (const [name, row] of rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        rows.delete(name);
      }
    }
    if (rows.size === 0) body.append(empty);
    else empty.remove();
  }

  return { el: table, update, refresh };
}
