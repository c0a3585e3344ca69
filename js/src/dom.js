// Element builder. Children and the `text` prop become text nodes, never markup:
// everything the server sends goes through here or through textContent.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child != null && child !== false) el.append(child);
  }
  return el;
}

export const SVG_NS = "http://www.w3.org/2000/svg";

// The same for SVG elements (createElementNS). Attributes are set as given; children are
// elements or strings, and strings become text nodes.
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "text") el.textContent = String(value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child != null && child !== false) el.append(child);
  }
  return el;
}

// A name as text nodes with a <wbr> after each separator (. _ / - :), so a narrow cell breaks
// "steprun.allow_reuse" after "steprun." instead of at any letter. Text only: never HTML.
export function breakableName(name) {
  const parts = String(name).split(/(?<=[._/:-])/);
  return parts.flatMap((part, i) => (i ? [document.createElement("wbr"), part] : [part]));
}

// Coalesces many calls into one run per animation frame; flush() runs it now.
export function frameScheduler(fn) {
  const raf = globalThis.requestAnimationFrame
    ? (cb) => globalThis.requestAnimationFrame(cb)
    : (cb) => setTimeout(cb, 16);
  const cancel = globalThis.cancelAnimationFrame
    ? (id) => globalThis.cancelAnimationFrame(id)
    : (id) => clearTimeout(id);
  let id = 0;
  let disposed = false;
  const run = () => {
    id = 0;
    if (!disposed) fn();
  };
  return {
    schedule() {
      if (!id && !disposed) id = raf(run);
    },
    flush() {
      if (id) cancel(id);
      run();
    },
    dispose() {
      disposed = true;
      if (id) cancel(id);
      id = 0;
    },
  };
}
