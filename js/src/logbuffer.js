import { AnsiStream, parseLines } from "./ansi.js";

export const DEFAULT_MAX_LINES = 1_000_000;

// All lines of one stream held in the browser, with the 0-based index of the first one in
// the whole log. Beyond `maxLines` the oldest lines are dropped (they can be fetched again).
export class LogBuffer {
  constructor({ maxLines = DEFAULT_MAX_LINES } = {}) {
    this.maxLines = maxLines;
    this.listeners = new Set();
    this._init(0);
  }

  _init(firstLine) {
    this.lines = [];
    this.head = 0; // lines[head] is the first held line; dropping is O(1) amortised
    this.firstLine = firstLine;
    this.stream = new AnsiStream();
  }

  get count() {
    return this.lines.length - this.head;
  }

  // Absolute index just after the last complete line.
  get endLine() {
    return this.firstLine + this.count;
  }

  line(index) {
    return this.lines[this.head + index - this.firstLine];
  }

  partial() {
    return this.stream.partialLine();
  }

  // Complete lines plus the unterminated one, as shown in a tab's count.
  get shownLines() {
    return this.endLine + (this.partial() ? 1 : 0);
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  _emit(event) {
    for (const fn of this.listeners) fn(event);
  }

  append(text) {
    const from = this.endLine;
    const done = this.stream.push(text);
    for (const line of done) this.lines.push(line);
    const dropped = this._enforceCap();
    this._emit({ type: "append", from, to: this.endLine, dropped });
  }

  clear() {
    this._init(0);
    this._emit({ type: "reset" });
  }

  // Replaces the content with a tail whose first line is `firstLine` of the whole log.
  load(tail, firstLine = 0) {
    this._init(Number.isInteger(firstLine) && firstLine > 0 ? firstLine : 0);
    for (const line of this.stream.push(tail ?? "")) this.lines.push(line);
    this._enforceCap();
    this._emit({ type: "reset" });
  }

  // Adds earlier lines starting at `startLine`. Returns how many were added: an answer that
  // does not reach the first held line (a gap) is ignored, and overlap is cut off. Emits a
  // "prepend" event either way, so a view waiting for the answer stops waiting.
  prepend(startLine, rawLines) {
    const added = this._prepend(startLine, rawLines);
    this._emit({ type: "prepend", added });
    return added;
  }

  _prepend(startLine, rawLines) {
    if (!Number.isInteger(startLine) || startLine < 0 || !Array.isArray(rawLines)) return 0;
    const wanted = this.firstLine - startLine;
    if (wanted <= 0 || rawLines.length < wanted) return 0;
    const take = Math.min(wanted, this.maxLines - this.count);
    if (take <= 0) return 0;
    const parsed = parseLines(rawLines.slice(wanted - take, wanted));
    this.lines = parsed.concat(this.head ? this.lines.slice(this.head) : this.lines);
    this.head = 0;
    this.firstLine -= take;
    return take;
  }

  _enforceCap() {
    const excess = this.count - this.maxLines;
    if (excess <= 0) return 0;
    this.head += excess;
    this.firstLine += excess;
    if (this.head > 65536 && this.head * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.head);
      this.head = 0;
    }
    return excess;
  }
}
