import { formatBytes } from "./bytes.js";

// What the outputs table says about a transfer, as plain strings (outputs.js paints them).

// 1_258_291 of 3_072_000 -> "1.2 MiB of 2.9 MiB (40%)"; an unknown total (a zip being built) -> "1.2 MiB".
export function progressText(received, size) {
  const got = formatBytes(Math.max(0, received || 0));
  if (!(Number.isFinite(size) && size > 0)) return got;
  const pct = Math.min(100, Math.floor((100 * Math.max(0, received || 0)) / size));
  return `${got} of ${formatBytes(size)} (${pct}%)`;
}

// The line under an output's row for a browser download's state (downloads.js), or "".
export function downloadNote(st, isDir = false) {
  if (!st) return "";
  const file = st.filename || st.name;
  switch (st.status) {
    case "pending":
      return isDir ? `Preparing ${st.name} as a zip…` : `Preparing ${file}…`;
    case "receiving":
      return `Downloading ${file}: ${progressText(st.received, st.size)}`;
    case "done": {
      const zipped = isDir || /\.zip$/i.test(file) ? " (the folder as a zip)" : "";
      return `Saved ${file} (${formatBytes(st.size)})${zipped} to your browser's downloads`;
    }
    case "canceled":
      return `Canceled the download of ${st.name}`;
    case "error":
      return st.error || "Download failed";
    default:
      return "";
  }
}

// The line for a save into the kernel's folder (kernel_save.js), or "".
export function kernelSaveNote(st) {
  if (!st) return "";
  switch (st.status) {
    case "saving":
      return `Saving ${st.name} into the kernel's folder…`;
    case "done":
      return `Saved in the kernel's folder: ${st.path} (${formatBytes(st.bytes)})`;
    case "error":
      return st.error || "Saving failed";
    default:
      return "";
  }
}
