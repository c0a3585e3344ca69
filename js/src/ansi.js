import Anser from "anser";

// Streaming ANSI text -> lines. A line is a plain string when it has no styling, or
// { text, runs: [{ t, st }] } where st = { c: class names, s: inline style } (built only
// from numbers and fixed names, never from server text).

const CSI = "\x1b[";
const MAX_HELD = 4096; // an unterminated escape longer than this is shown, not held
const MAX_RUNS = 256; // styled runs per line; later text joins the last run
const CSI_HEAD = /^[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]/;
const CSI_PREFIX = /^[\x30-\x3f]*[\x20-\x2f]*$/;
// What anser's own pattern accepts at the start of a chunk; other CSI forms (e.g. "38:5:1m")
// are dropped here, because anser would search for a match further on and eat text.
const ANSER_HEAD = /^[!\x3c-\x3f]*[\d;]*[\x20-\x2c]*[\x40-\x7e]/;
const ANSER_OPTIONS = { json: true, use_classes: true };
// Escapes we drop: OSC (titles, hyperlinks), charset selection and other two-byte ESC codes.
const NON_CSI = /\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b[()*+#%][\x20-\x7e]|\x1b[\x30-\x5a\x5c-\x7e]/g;
// C0 controls other than \t \n \r and ESC render as junk glyphs.
const CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]/g;
const NEWLINE_OR_CR = /[\r\n]/g;
const RGB = /^(\d{1,3}), ?(\d{1,3}), ?(\d{1,3})$/;

// Length of an escape sequence cut off at the end of `text` (0 when the text ends cleanly).
export function incompleteEscapeLength(text) {
  const i = text.lastIndexOf("\x1b");
  if (i < 0) return 0;
  const tail = text.slice(i);
  if (tail.length > MAX_HELD) return 0;
  if (tail.length === 1) return 1;
  const kind = tail[1];
  // Held only while what follows could still become a valid sequence.
  if (kind === "[") return CSI_PREFIX.test(tail.slice(2)) ? tail.length : 0;
  if (kind === "]") return /[\x07\n]/.test(tail) ? 0 : tail.length;
  if ("()*+#%".includes(kind)) return tail.length >= 3 ? 0 : tail.length;
  return 0;
}

function palette256(n) {
  if (n < 16) return null;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return [v, v, v];
  }
  const levels = [0, 95, 135, 175, 215, 255];
  const k = n - 16;
  return [levels[Math.floor(k / 36)], levels[Math.floor(k / 6) % 6], levels[k % 6]];
}

function colour(value, truecolor, side, classes, styles) {
  if (!value) return;
  const prop = side === "fg" ? "color" : "background-color";
  let rgb = null;
  if (value === "ansi-truecolor") {
    const m = RGB.exec(truecolor ?? "");
    if (m) rgb = [m[1], m[2], m[3]].map(Number);
  } else if (value.startsWith("ansi-palette-")) {
    rgb = palette256(Number(value.slice(13)));
  } else if (/^ansi-(bright-)?[a-z]+$/.test(value)) {
    classes.push(`srw-${value}-${side}`);
    return;
  } else if (value.startsWith("srw-")) {
    classes.push(value);
    return;
  }
  if (rgb && rgb.every((v) => v >= 0 && v <= 255)) styles.push(`${prop}:rgb(${rgb.join(",")})`);
}

const DECORATION_CLASSES = {
  bold: "srw-ansi-bold",
  dim: "srw-ansi-dim",
  italic: "srw-ansi-italic",
  underline: "srw-ansi-underline",
  hidden: "srw-ansi-hidden",
  strikethrough: "srw-ansi-strike",
};

// Turns the parser's current SGR state into a shared style object (null = unstyled).
function styleOf(state, cache) {
  const decorations = state.decorations ?? [];
  if (!state.fg && !state.bg && decorations.length === 0) return null;
  const key = `${state.fg}|${state.bg}|${state.fg_truecolor}|${state.bg_truecolor}|${decorations.join(",")}`;
  let st = cache.get(key);
  if (st !== undefined) return st;
  let fg = state.fg;
  let bg = state.bg;
  let fgTrue = state.fg_truecolor;
  let bgTrue = state.bg_truecolor;
  if (decorations.includes("reverse")) {
    [fg, bg, fgTrue, bgTrue] = [bg || "srw-ansi-inverse-fg", fg || "srw-ansi-inverse-bg", bgTrue, fgTrue];
  }
  const classes = [];
  const styles = [];
  colour(fg, fgTrue, "fg", classes, styles);
  colour(bg, bgTrue, "bg", classes, styles);
  for (const d of new Set(decorations)) if (DECORATION_CLASSES[d]) classes.push(DECORATION_CLASSES[d]);
  st = classes.length || styles.length ? { c: classes.join(" "), s: styles.join(";") } : null;
  cache.set(key, st);
  return st;
}

export function lineText(line) {
  return typeof line === "string" ? line : line.text;
}

// Parses text that arrives in arbitrary chunks. push() returns the lines completed by the
// chunk; partialLine() is the unterminated current line. Work per push is O(chunk), apart
// from the current line, which is rebuilt only when asked for.
//
// `\r` not followed by `\n` moves to the start of the line: the next text replaces the line
// (progress bars). Until that text arrives the old content stays visible, so "50%\r" shows
// "50%" and a CRLF ("\r\n") ends the line unchanged.
export class AnsiStream {
  constructor() {
    this.parser = new Anser();
    this.styles = new Map();
    this.held = "";
    this.runs = [];
    this.crPending = false;
    this.partialCache = undefined;
  }

  push(chunk) {
    let text = this.held + String(chunk ?? "");
    this.held = "";
    const cut = incompleteEscapeLength(text);
    if (cut) {
      this.held = text.slice(text.length - cut);
      text = text.slice(0, text.length - cut);
    }
    const out = [];
    if (!text) return out;
    text = text.replace(NON_CSI, "").replace(CONTROLS, "");
    const parts = text.split(CSI);
    this._feed(parts[0], styleOf(this.parser, this.styles), out);
    for (let k = 1; k < parts.length; k++) {
      const part = parts[k];
      let content;
      if (ANSER_HEAD.test(part)) {
        content = this.parser.processChunkJson(part, ANSER_OPTIONS, true).content;
      } else {
        const m = CSI_HEAD.exec(part);
        content = m ? part.slice(m[0].length) : part;
      }
      this._feed(content, styleOf(this.parser, this.styles), out);
    }
    return out;
  }

  // Ends the current line even without a newline (used for lines that arrive one by one).
  endLine(out = []) {
    out.push(this._takeLine());
    return out;
  }

  partialLine() {
    if (this.partialCache === undefined) {
      this.partialCache = this.runs.length ? buildLine(this.runs) : null;
    }
    return this.partialCache;
  }

  _feed(text, st, out) {
    const n = text.length;
    let i = 0;
    while (i < n) {
      NEWLINE_OR_CR.lastIndex = i;
      const m = NEWLINE_OR_CR.exec(text);
      const j = m ? m.index : n;
      if (j > i) this._append(text.slice(i, j), st);
      if (!m) break;
      if (m[0] === "\n") out.push(this._takeLine());
      else this.crPending = true;
      i = j + 1;
    }
  }

  _append(t, st) {
    if (this.crPending) {
      this.runs = [];
      this.crPending = false;
    }
    this.partialCache = undefined;
    const last = this.runs[this.runs.length - 1];
    if (last && (last.st === st || this.runs.length >= MAX_RUNS)) last.t += t;
    else this.runs.push({ t, st });
  }

  _takeLine() {
    const line = buildLine(this.runs);
    this.runs = [];
    this.crPending = false;
    this.partialCache = undefined;
    return line;
  }
}

function buildLine(runs) {
  if (runs.length === 0) return "";
  if (runs.length === 1 && runs[0].st === null) return runs[0].t;
  let text = "";
  let styled = false;
  for (const r of runs) {
    text += r.t;
    if (r.st) styled = true;
  }
  if (!styled) return text;
  return { text, runs: runs.map((r) => ({ t: r.t, st: r.st })) };
}

// Parses complete lines independently of any stream (e.g. earlier lines fetched on demand).
export function parseLines(rawLines) {
  const stream = new AnsiStream();
  const out = [];
  for (const raw of rawLines) {
    const text = String(raw ?? "").replace(/\r?\n$/, "");
    for (const line of stream.push(text.replace(/\n/g, " "))) out.push(line);
    stream.endLine(out);
  }
  return out;
}

// Writes a line into a row element with text nodes only.
export function renderLine(row, line) {
  if (typeof line === "string") {
    row.textContent = line;
    return;
  }
  row.textContent = "";
  for (const run of line.runs) {
    if (!run.st) {
      row.append(document.createTextNode(run.t));
      continue;
    }
    const span = document.createElement("span");
    if (run.st.c) span.className = run.st.c;
    if (run.st.s) span.style.cssText = run.st.s;
    span.textContent = run.t;
    row.append(span);
  }
}
