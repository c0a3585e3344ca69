// Marks every match of `re` in a rendered log line (text nodes inside ANSI spans) with
// <mark class="srw-match">, splitting text nodes where a match starts or ends; a match that
// crosses a colour change is marked piece by piece. Text stays text: only nodes are split.
// Returns how many matches the line has.
export function highlightMatches(el, re) {
  if (!re) return 0;
  const nodes = [];
  const walker = el.ownerDocument.createTreeWalker(el, 4 /* NodeFilter.SHOW_TEXT */);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n);
  const text = nodes.map((n) => n.data).join("");
  const global = new RegExp(re.source, re.flags.includes("g") ? re.flags : `${re.flags}g`);
  const ranges = [];
  for (let m = global.exec(text); m; m = global.exec(text)) {
    if (m[0].length === 0) {
      global.lastIndex += 1;
      continue;
    }
    ranges.push([m.index, m.index + m[0].length]);
  }
  if (!ranges.length) return 0;
  let offset = 0;
  let r = 0;
  for (const node of nodes) {
    const start = offset;
    const end = offset + node.data.length;
    offset = end;
    while (r < ranges.length && ranges[r][1] <= start) r += 1;
    const pieces = [];
    let pos = start;
    for (let k = r; k < ranges.length && ranges[k][0] < end; k++) {
      const a = Math.max(ranges[k][0], start);
      const b = Math.min(ranges[k][1], end);
      if (a > pos) pieces.push([pos, a, false]);
      pieces.push([a, b, true]);
      pos = b;
    }
    if (!pieces.some((p) => p[2])) continue;
    if (pos < end) pieces.push([pos, end, false]);
    const doc = el.ownerDocument;
    const frag = doc.createDocumentFragment();
    for (const [a, b, hit] of pieces) {
      const t = doc.createTextNode(text.slice(a, b));
      if (hit) {
        const mark = doc.createElement("mark");
        mark.className = "srw-match";
        mark.append(t);
        frag.append(mark);
      } else {
        frag.append(t);
      }
    }
    node.replaceWith(frag);
  }
  return ranges.length;
}

// "Jump to end ↓" / "Jump to end (1 new line) ↓" / "Jump to end (1,234 new lines) ↓"
export function jumpLabel(newLines) {
  const n = Math.max(0, Math.floor(newLines || 0));
  if (!n) return "Jump to end ↓";
  const count = String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `Jump to end (${count} new ${n === 1 ? "line" : "lines"}) ↓`;
}

// The log panel's height: fits a short log (never below `min`), at most `max` (then it scrolls).
export function fitHeight(rows, rowHeight, { min = 60, max = 320, chrome = 4 } = {}) {
  return Math.round(Math.min(max, Math.max(min, rows * rowHeight + chrome)));
}
