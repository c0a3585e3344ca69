// @ts-check
import { h, frameScheduler } from "./dom.js";
import { lineText, renderLine } from "./ansi.js";
import { fitHeight, highlightMatches, jumpLabel } from "./highlight.js";

// Browsers cap element heights (Firefox near 17.9M px); past this the scrollbar is scaled.
const MAX_SCROLL_PX = 8_000_000;
const OLDER_TIMEOUT_MS = 20_000;

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function lowerBound(sorted, value, lo) {
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Virtualised view of one LogBuffer at a time: only the visible rows (plus overscan) exist
// in the DOM, each a fixed-height `.srw-line`. Follows the tail until the user scrolls up;
// while scrolled up the top visible line is kept in place (the "anchor") whatever is
// appended, dropped or prepended.
export class LogView {
  constructor({
    rowHeight = 18,
    overscan = 15,
    viewportHeight = 320,
    olderCount = 2000,
    onRequestOlder = null,
    label = "Log output",
  } = {}) {
    this.rowHeight = rowHeight;
    this.rowMeasured = false;
    this.overscan = overscan;
    this.defaultViewport = viewportHeight;
    this.olderCount = olderCount;
    this.onRequestOlder = onRequestOlder;

    this.buffer = null;
    this.streamName = "";
    this.unsubscribe = null;
    this.saved = new WeakMap(); // buffer -> { following, anchor } when its tab is not shown
    this.pendingOlder = new Map(); // buffer -> timeout id of an unanswered request
    this.following = true;
    this.anchor = null; // { line: absolute index, frac } of the top row while scrolled up
    this.filterRe = null;
    this.matches = []; // absolute indices of matching complete lines, ascending
    this.matchStart = 0; // matches before this index were dropped from the buffer
    this.scannedTo = 0;
    this.matchesDirty = true;
    this.rowEls = [];
    this.rowLines = [];
    this.rowAbs = [];
    this.rowFilter = [];
    this.newLines = 0; // lines that arrived while scrolled up (the "Jump to end" button says so)
    this.emptyText = "No output yet"; // what an empty log says (setEmptyText: once the run ended)
    this.wrap = false;
    this.autoHeight = true; // until the user resizes the panel
    this.autoHeightPx = null;
    this.lastScrollTop = 0;
    this.geom = { rows: 0, viewRows: 1, maxS: 0, scaled: false, height: -1, topSpan: 0 };

    this.filter = h("input", {
      class: "srw-filter",
      type: "search",
      placeholder: "Filter",
      "aria-label": "Filter log lines (case-insensitive)",
      "data-testid": "srw-filter",
      autocomplete: "off",
      spellcheck: "false",
      oninput: () => this.setFilter(this.filter.value),
    });
    this.matchInfo = h("span", { class: "srw-filter-info", hidden: true });
    this.wrapToggle = h("button", {
      type: "button",
      class: "srw-button srw-wrap-toggle",
      "data-testid": "srw-wrap",
      "aria-pressed": "false",
      title: "Wrap long lines instead of scrolling sideways",
      text: "Wrap lines",
      onclick: () => this.setWrap(!this.wrap),
    });
    this.tools = h("span", { class: "srw-log-tools" });
    this.older = h("button", {
      type: "button",
      class: "srw-button srw-older",
      "data-testid": "srw-older",
      "aria-label": "Load earlier lines",
      text: "Load earlier lines",
      hidden: true,
      onclick: () => this.requestOlder(),
    });
    this.layer = h("div", { class: "srw-log-rows" });
    this.spacer = h("div", { class: "srw-log-spacer" }, this.layer);
    // aria-live is off: rows are rewritten as the view scrolls, which a live region would read out.
    this.scroller = h(
      "div",
      {
        class: "srw-log",
        role: "log",
        "aria-live": "off",
        "aria-label": label,
        tabindex: "0",
        "data-testid": "srw-log",
        onscroll: () => this._onScroll(),
      },
      this.spacer,
    );
    this.jump = h("button", {
      type: "button",
      class: "srw-button srw-jump",
      "data-testid": "srw-jump",
      "aria-label": "Jump to end of log",
      text: "Jump to end ↓",
      hidden: true,
      onclick: () => this.jumpToEnd(),
    });
    this.el = h(
      "div",
      { class: "srw-logview" },
      h("div", { class: "srw-log-toolbar" }, this.filter, this.matchInfo, this.wrapToggle, this.tools, this.older),
      h("div", { class: "srw-log-wrap" }, this.scroller, this.jump),
    );
    this.frame = frameScheduler(() => this._render());
    if (globalThis.ResizeObserver) {
      this.resizeObserver = new ResizeObserver(() => this.frame.schedule());
      this.resizeObserver.observe(this.scroller);
    }
  }

  setBuffer(buffer, streamName = "") {
    if (this.buffer === buffer) return;
    if (this.buffer) {
      this.saved.set(this.buffer, { following: this.following, anchor: this.anchor });
      this.unsubscribe?.();
    }
    this.buffer = buffer;
    this.streamName = streamName;
    const state = this.saved.get(buffer) ?? { following: true, anchor: null };
    this.following = state.following;
    this.anchor = state.anchor;
    this.matchesDirty = true;
    this.unsubscribe = buffer.subscribe((event) => this._onBufferEvent(buffer, event));
    this.frame.schedule();
  }

  setFilter(query) {
    const q = String(query ?? "");
    if (this.filter.value !== q) this.filter.value = q;
    this.filterRe = q ? new RegExp(escapeRegExp(q), "i") : null;
    this.matchesDirty = true;
    this.frame.schedule();
  }

  setWrap(on) {
    this.wrap = Boolean(on);
    this.wrapToggle.setAttribute("aria-pressed", String(this.wrap));
    this.scroller.classList.toggle("srw-wrap", this.wrap);
    this.frame.schedule();
  }

  jumpToEnd() {
    this.newLines = 0;
    this.following = true;
    this.anchor = null;
    this.frame.flush();
  }

  requestOlder() {
    const buf = this.buffer;
    if (!buf || buf.firstLine <= 0 || this.pendingOlder.has(buf)) return;
    const count = Math.min(this.olderCount, buf.firstLine);
    const timer = setTimeout(() => {
      this.pendingOlder.delete(buf);
      this.frame.schedule();
    }, OLDER_TIMEOUT_MS);
    this.pendingOlder.set(buf, timer);
    this.onRequestOlder?.(this.streamName, buf.firstLine, count);
    this.frame.schedule();
  }

  // Renders now instead of at the next animation frame.
  flush() {
    this.frame.flush();
  }

  dispose() {
    this.frame.dispose();
    this.resizeObserver?.disconnect();
    this.unsubscribe?.();
    for (const timer of this.pendingOlder.values()) clearTimeout(timer);
    this.pendingOlder.clear();
  }

  _onBufferEvent(buffer, event) {
    if (event.type === "reset" || event.type === "prepend") {
      const timer = this.pendingOlder.get(buffer);
      if (timer !== undefined) clearTimeout(timer);
      this.pendingOlder.delete(buffer);
    }
    if (buffer !== this.buffer) return;
    if (event.type === "reset") {
      this.following = true;
      this.anchor = null;
      this.newLines = 0;
    }
    if (event.type === "append" && !this.following) this.newLines += Math.max(0, event.to - event.from);
    if (event.type === "reset" || (event.type === "prepend" && event.added > 0)) this.matchesDirty = true;
    this.frame.schedule();
  }

  _onScroll() {
    const s = this.scroller.scrollTop;
    if (Math.abs(s - this.lastScrollTop) < 1) return; // our own scrollTop assignment
    this.lastScrollTop = s;
    const { maxS } = this.geom;
    if (s >= maxS - Math.max(2, this.rowHeight / 2)) {
      this.following = true;
      this.anchor = null;
      this.newLines = 0;
    } else {
      this.following = false;
      const t = this._rowForScroll(s);
      const row = Math.floor(t);
      this.anchor = { line: this._lineOfRow(row), frac: t - row };
    }
    this.frame.schedule();
  }

  _measure() {
    if (this.autoHeightPx != null && this.scroller.style.height !== `${this.autoHeightPx}px`) {
      this.autoHeight = false; // the user dragged the panel's size: keep theirs
    }
    const view = this.scroller.clientHeight;
    this.viewportHeight = view > 0 ? view : this.defaultViewport;
    if (this.rowMeasured || !this.scroller.isConnected || view <= 0) return;
    const probe = h("div", { class: "srw-line srw-line-probe", text: "Xg" });
    this.layer.append(probe);
    const height = Math.round(probe.getBoundingClientRect().height);
    probe.remove();
    if (height > 0) {
      this.rowHeight = height;
      this.scroller.style.setProperty("--srw-row-h", `${height}px`);
    }
    this.rowMeasured = true;
  }

  _updateMatches(buf) {
    const re = this.filterRe;
    if (this.matchesDirty) {
      this.matches = [];
      this.matchStart = 0;
      this.scannedTo = buf.firstLine;
      this.matchesDirty = false;
    }
    const from = Math.max(this.scannedTo, buf.firstLine);
    const to = buf.endLine;
    for (let i = from; i < to; i++) {
      if (re.test(lineText(buf.line(i)))) this.matches.push(i);
    }
    this.scannedTo = to;
    this.matchStart = lowerBound(this.matches, buf.firstLine, this.matchStart);
    if (this.matchStart > 65536 && this.matchStart * 2 > this.matches.length) {
      this.matches = this.matches.slice(this.matchStart);
      this.matchStart = 0;
    }
  }

  get _baseRows() {
    return this.filterRe ? this.matches.length - this.matchStart : this.buffer.count;
  }

  _lineOfRow(row) {
    const buf = this.buffer;
    const base = this._baseRows;
    if (row >= base) return buf.endLine; // the unterminated line
    return this.filterRe ? this.matches[this.matchStart + row] : buf.firstLine + row;
  }

  _rowOfLine(line) {
    const buf = this.buffer;
    if (this.filterRe) return lowerBound(this.matches, line, this.matchStart) - this.matchStart;
    return Math.max(0, Math.min(line, buf.endLine) - buf.firstLine);
  }

  // Scaled mode maps the scroll range linearly onto top rows 0 .. rows - viewRows, with a
  // fractional viewRows so the last row ends exactly at the bottom edge.
  _rowForScroll(s) {
    const { maxS, scaled, topSpan } = this.geom;
    if (!scaled) return s / this.rowHeight;
    return maxS > 0 ? (s / maxS) * topSpan : 0;
  }

  _scrollForRow(t) {
    const { maxS, scaled, topSpan } = this.geom;
    if (!scaled) return t * this.rowHeight;
    return topSpan > 0 ? (t / topSpan) * maxS : 0;
  }

  /** What an empty log says: "No output yet" while the run may still write, else why it is empty. */
  setEmptyText(text) {
    if (text === this.emptyText) return;
    this.emptyText = text;
    this.frame.schedule();
  }

  _render() {
    const buf = this.buffer;
    if (!buf) return;
    this._measure();
    const rowH = this.rowHeight;
    const re = this.filterRe;
    if (re) this._updateMatches(buf);
    const partial = buf.partial();
    const showPartial = partial !== null && (!re || re.test(lineText(partial)));
    const base = this._baseRows;
    const rows = base + (showPartial ? 1 : 0);
    if (this.autoHeight && this.scroller.isConnected && !this.wrap) {
      // grows to fit, never shrinks: another tab, a filter or a cleared log keeps the widget's
      // height (the page below does not jump)
      const want = Math.max(this.autoHeightPx ?? 0, fitHeight(rows, rowH, { max: this.defaultViewport }));
      if (want !== this.autoHeightPx) {
        this.autoHeightPx = want;
        this.scroller.style.height = `${want}px`;
        const view = this.scroller.clientHeight;
        this.viewportHeight = view > 0 ? view : want;
      }
    }
    const digits = String(Math.max(1, buf.endLine + 1)).length;
    if (digits !== this.gutterDigits) {
      this.gutterDigits = digits;
      this.scroller.style.setProperty("--srw-ln-w", `${digits}ch`);
    }
    const viewH = this.viewportHeight;
    const viewRows = Math.max(1, Math.ceil(viewH / rowH));
    const total = rows * rowH;
    const height = Math.min(total, MAX_SCROLL_PX);
    const maxS = Math.max(0, height - viewH);
    const prevHeight = this.geom.height;
    const topSpan = Math.max(0, rows - viewH / rowH);
    this.geom = { rows, viewRows, maxS, scaled: total > height, height, topSpan };
    if (height !== prevHeight) this.spacer.style.height = `${height}px`;

    if (maxS === 0) {
      this.following = true;
      this.anchor = null;
    }
    let s;
    if (this.following) s = maxS;
    else if (this.anchor) s = this._scrollForRow(this._rowOfLine(this.anchor.line) + this.anchor.frac);
    else s = this.scroller.scrollTop;
    s = Math.max(0, Math.min(maxS, s));
    if (Math.abs(this.scroller.scrollTop - s) >= 1) this.scroller.scrollTop = s;
    this.lastScrollTop = this.scroller.scrollTop;

    const t = this._rowForScroll(s);
    const first = Math.max(0, Math.min(Math.floor(t), rows - 1));
    if (this.wrap) {
      // Wrapped rows have their own heights: the scroll position picks the top line (one row
      // height of scrolling per line), and at the end the last line sits on the bottom edge.
      const start = this.following ? Math.max(0, rows - viewRows - 1) : first;
      const end = Math.min(rows, start + viewRows + 1);
      this._paintRows(start, end, base, partial);
      let y = s;
      if (this.following) y = Math.max(0, s + viewH - this.layer.offsetHeight);
      this.layer.style.transform = `translateY(${Math.round(y)}px)`;
      if (this.autoHeight && this.scroller.isConnected) {
        // wrapped rows are taller than one row: fit the panel to what they measure
        const fit = Math.round(Math.min(this.defaultViewport, Math.max(60, this.layer.offsetHeight + 4)));
        const want = Math.max(this.autoHeightPx ?? 0, fit);
        if (want !== this.autoHeightPx) {
          this.autoHeightPx = want;
          this.scroller.style.height = `${want}px`;
          this.frame.schedule();
        }
      }
    } else {
      const start = Math.max(0, first - this.overscan);
      const end = Math.min(rows, first + viewRows + 1 + this.overscan);
      let y = start * rowH;
      if (this.geom.scaled) {
        y = s - (t - first) * rowH - (first - start) * rowH;
        y = Math.max(0, Math.min(height - (end - start) * rowH, y));
      }
      this.layer.style.transform = `translateY(${Math.round(y)}px)`;
      this._paintRows(start, end, base, partial);
    }

    if (this.following) this.newLines = 0;
    this.jump.hidden = this.following;
    const label = jumpLabel(this.newLines);
    if (this.jump.textContent !== label) this.jump.textContent = label;
    this.older.hidden = buf.firstLine <= 0;
    this.older.disabled = this.pendingOlder.has(buf);
    if (rows === 0) this.scroller.dataset.empty = re ? "No matching lines" : this.emptyText;
    else delete this.scroller.dataset.empty;
    this.matchInfo.hidden = !re;
    if (re) this.matchInfo.textContent = `${base + (showPartial ? 1 : 0)} matching`;
  }

  _paintRows(start, end, base, partial) {
    const n = Math.max(0, end - start);
    while (this.rowEls.length < n) {
      const row = h("div", { class: "srw-line" });
      this.layer.append(row);
      this.rowEls.push(row);
      this.rowLines.push(undefined);
      this.rowAbs.push(-1);
      this.rowFilter.push(null);
    }
    while (this.rowEls.length > n) {
      this.rowEls.pop().remove();
      this.rowLines.pop();
      this.rowAbs.pop();
      this.rowFilter.pop();
    }
    const buf = this.buffer;
    const re = this.filterRe;
    for (let k = 0; k < n; k++) {
      const row = start + k;
      const abs = this._lineOfRow(row);
      const line = (row >= base ? partial : buf.line(abs)) ?? "";
      const el = this.rowEls[k];
      if (this.rowLines[k] !== line || this.rowFilter[k] !== re) {
        renderLine(el, line);
        highlightMatches(el, re);
        this.rowLines[k] = line;
        this.rowFilter[k] = re;
      }
      if (this.rowAbs[k] !== abs) {
        el.dataset.line = String(abs);
        el.dataset.ln = String(abs + 1); // the gutter's number (CSS ::before: not in the text)
        this.rowAbs[k] = abs;
      }
    }
  }
}
