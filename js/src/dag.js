/*! @dagrejs/dagre and @dagrejs/graphlib (bundled here), MIT License:

Copyright (c) 2012-2014 Chris Pettitt

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
*/
import { graphlib, layout as dagreLayout } from "@dagrejs/dagre";
import { h, svg } from "./dom.js";

// The pipeline graph: dagre lays it out (left to right by default), SVG draws it. The layout
// runs only when the graph itself changes (setGraph with a new key); status changes repaint the
// node groups in place (updateSteps), and the clock only rewrites the duration texts (tick).

export const NODE_W = 184;
export const NODE_H = 54;
const NAME_X = 30;
const NAME_MAX = 20; // characters of a name that fit the node at the CSS font size
const MIN_SCALE = 0.1;
const MAX_SCALE = 2;
const MIN_AUTO_SCALE = 0.6; // the first fit never shrinks text below this

let instances = 0;

// Positions for every node (top-left corner) and a polyline per edge.
export function layoutGraph({ nodes, edges }, { rankdir = "LR" } = {}) {
  const g = new graphlib.Graph();
  g.setGraph({ rankdir, nodesep: 18, ranksep: 56, edgesep: 12, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: NODE_W, height: NODE_H });
  for (const [from, to] of edges) g.setEdge(from, to);
  dagreLayout(g);
  const positions = new Map();
  for (const n of nodes) {
    const p = g.node(n.id);
    positions.set(n.id, { x: p.x - NODE_W / 2, y: p.y - NODE_H / 2, cx: p.x, cy: p.y });
  }
  const paths = edges.map(([from, to]) => ({ from, to, points: g.edge(from, to)?.points ?? [] }));
  const { width = 0, height = 0 } = g.graph();
  return { positions, edges: paths, width: Math.ceil(width), height: Math.ceil(height) };
}

const r = (v) => Math.round(v * 10) / 10;

// A smooth path through dagre's edge points (the B-spline of d3's curveBasis).
export function edgePath(points) {
  const pts = points.filter((p) => Number.isFinite(p?.x) && Number.isFinite(p?.y));
  if (pts.length === 0) return "";
  if (pts.length < 3) return pts.map((p, i) => `${i ? "L" : "M"}${r(p.x)},${r(p.y)}`).join("");
  let d = `M${r(pts[0].x)},${r(pts[0].y)}`;
  const curve = (a, b, c) =>
    `C${r((2 * a.x + b.x) / 3)},${r((2 * a.y + b.y) / 3)} ${r((a.x + 2 * b.x) / 3)},${r(
      (a.y + 2 * b.y) / 3,
    )} ${r((a.x + 4 * b.x + c.x) / 6)},${r((a.y + 4 * b.y + c.y) / 6)}`;
  d += `L${r((5 * pts[0].x + pts[1].x) / 6)},${r((5 * pts[0].y + pts[1].y) / 6)}`;
  for (let i = 2; i < pts.length; i++) d += curve(pts[i - 2], pts[i - 1], pts[i]);
  const n = pts.length;
  d += curve(pts[n - 2], pts[n - 1], pts[n - 1]);
  d += `L${r(pts[n - 1].x)},${r(pts[n - 1].y)}`;
  return d;
}

// "a-very-long-step-name-here" -> "a-very-long-step-na…" (by code points, never mid-surrogate).
export function shortName(name, max = NAME_MAX) {
  const chars = Array.from(name);
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : name;
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

export class GraphView {
  constructor({ onSelect = () => {}, rankdir = "LR" } = {}) {
    instances += 1;
    const uid = `prw-${instances}-${Math.random().toString(36).slice(2, 8)}`;
    this.onSelect = onSelect;
    this.rankdir = rankdir;
    this.layoutCount = 0;
    this.key = null;
    this.layout = null;
    this.nodes = new Map(); // id -> { g, parts, painted }
    this.edges = [];
    this.selected = "";
    this.scale = 1;
    this.autoFit = true;
    this.markerId = `${uid}-arrow`;
    this.activeMarkerId = `${uid}-arrow-active`;

    const arrow = (id, cls) =>
      svg(
        "marker",
        {
          id,
          viewBox: "0 0 10 10",
          refX: 10,
          refY: 5,
          markerWidth: 9,
          markerHeight: 9,
          markerUnits: "userSpaceOnUse",
          orient: "auto",
        },
        svg("path", { d: "M0,0L10,5L0,10z", class: cls }),
      );
    this.edgeLayer = svg("g", { class: "prw-edges" });
    this.nodeLayer = svg("g", { class: "prw-nodes" });
    this.svg = svg(
      "svg",
      {
        class: "prw-graph",
        "data-testid": "prw-graph",
        role: "group",
        "aria-label": "Pipeline graph",
        width: 0,
        height: 0,
      },
      svg("defs", {}, arrow(this.markerId, "prw-arrow"), arrow(this.activeMarkerId, "prw-arrow prw-arrow-active")),
      this.edgeLayer,
      this.nodeLayer,
    );
    this.empty = h("div", { class: "prw-graph-empty", text: "This pipeline has no steps.", hidden: true });
    this.scroller = h("div", { class: "prw-graph-scroll" }, this.svg, this.empty);
    this.zoomLabel = h("span", { class: "prw-zoom-label", "aria-live": "polite", text: "100%" });
    const button = (text, label, fn) =>
      h("button", { type: "button", class: "srw-button prw-zoom-button", title: label, "aria-label": label, text, onclick: fn });
    this.toolbar = h(
      "div",
      { class: "prw-graph-toolbar", role: "toolbar", "aria-label": "Zoom" },
      button("−", "Zoom out", () => this.zoomBy(1 / 1.25)),
      button("+", "Zoom in", () => this.zoomBy(1.25)),
      button("Fit", "Fit to width", () => this.fit()),
      button("1:1", "Actual size", () => this.setScale(1)),
      this.zoomLabel,
    );
    // data-lm-suppress-shortcuts: JupyterLab leaves keys pressed here to us (Enter on a node
    // would otherwise put the notebook cell in edit mode).
    this.el = h("div", { class: "prw-graph-wrap", "data-lm-suppress-shortcuts": "true" }, this.toolbar, this.scroller);

    this.svg.addEventListener("click", (event) => {
      const id = this._nodeId(event.target);
      if (id != null) this.onSelect(id);
    });
    this.svg.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " " && event.key !== "Spacebar") return;
      const id = this._nodeId(event.target);
      if (id == null) return;
      event.preventDefault();
      this.onSelect(id);
    });
    // Ctrl/Cmd + wheel zooms around the pointer; a plain wheel scrolls (the notebook too).
    this.scroller.addEventListener(
      "wheel",
      (event) => {
        if (!event.ctrlKey && !event.metaKey) return;
        event.preventDefault();
        const rect = this.scroller.getBoundingClientRect();
        this.zoomBy(event.deltaY < 0 ? 1.1 : 1 / 1.1, event.clientX - rect.left, event.clientY - rect.top);
      },
      { passive: false },
    );
    if (typeof ResizeObserver === "function") {
      this.resizeObserver = new ResizeObserver(() => {
        if (this.autoFit) this._autoFit();
        if (this.pendingReveal) this.revealNode(this.pendingReveal);
      });
      this.resizeObserver.observe(this.scroller);
    }
  }

  _nodeId(target) {
    const g = target?.closest?.(".prw-node");
    return g && this.nodeLayer.contains(g) ? g.getAttribute("data-node-id") : null;
  }

  // Lays the graph out and rebuilds the SVG when `graph` (normalised, see pipeline_steps.js)
  // differs from the one shown. Returns whether it did.
  setGraph(graph) {
    if (graph.key === this.key) return false;
    this.key = graph.key;
    this.layout = layoutGraph(graph, { rankdir: this.rankdir });
    this.layoutCount += 1;
    const { positions, edges, width, height } = this.layout;

    const edgeEls = edges.map(({ from, to, points }) =>
      svg("path", {
        class: "prw-edge",
        d: edgePath(points),
        "marker-end": `url(#${this.markerId})`,
        "data-from": from,
        "data-to": to,
      }),
    );
    // DOM (and so Tab) order follows the picture: by column, then top to bottom.
    const order = [...graph.nodes].sort((a, b) => {
      const pa = positions.get(a.id);
      const pb = positions.get(b.id);
      return this.rankdir === "LR" || this.rankdir === "RL" ? pa.x - pb.x || pa.y - pb.y : pa.y - pb.y || pa.x - pb.x;
    });
    this.nodes = new Map();
    const nodeEls = order.map((node) => {
      const p = positions.get(node.id);
      const parts = {
        title: svg("title"),
        box: svg("rect", { class: "prw-node-box", width: NODE_W, height: NODE_H, rx: 6, ry: 6 }),
        stripe: svg("rect", { class: "prw-node-stripe", x: 0.5, y: 0.5, width: 6, height: NODE_H - 1, rx: 3, ry: 3 }),
        icon: svg("text", { class: "prw-node-icon", x: 18, y: 24, "text-anchor": "middle", "aria-hidden": "true" }),
        name: svg("text", { class: "prw-node-name", x: NAME_X, y: 24 }),
        sub: svg("text", { class: "prw-node-sub", x: NAME_X, y: 42 }),
        reuse: svg("text", {
          class: "prw-node-reuse",
          x: NODE_W - 10,
          y: 42,
          "text-anchor": "end",
          display: "none",
          "aria-hidden": "true",
          text: "♻",
        }),
      };
      parts.name.textContent = shortName(node.name);
      const g = svg(
        "g",
        {
          class: "prw-node",
          transform: `translate(${r(p.x)},${r(p.y)})`,
          tabindex: 0,
          role: "button",
          "aria-pressed": "false",
          "data-node-id": node.id,
          "data-testid": `prw-node-${node.id}`,
        },
        parts.title,
        parts.box,
        parts.stripe,
        parts.icon,
        parts.name,
        parts.sub,
        parts.reuse,
      );
      this.nodes.set(node.id, { g, parts, node, painted: {} });
      return g;
    });
    this.edges = edgeEls;
    this.edgeLayer.replaceChildren(...edgeEls);
    this.nodeLayer.replaceChildren(...nodeEls);
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.empty.hidden = graph.nodes.length > 0;
    this.svg.style.display = graph.nodes.length > 0 ? "" : "none";
    if (this.autoFit) this._autoFit();
    else this._applyScale();
    this._markSelected();
    return true;
  }

  // Repaints every node from its step view (pipeline_steps.nodeView): only what changed is
  // written to the DOM.
  paint(views) {
    for (const [id, entry] of this.nodes) {
      const v = views.get(id);
      if (!v) continue;
      const { g, parts, painted } = entry;
      if (painted.status !== v.status) {
        g.setAttribute("data-status", v.status);
        painted.status = v.status;
      }
      if (painted.tone !== v.tone || painted.reused !== v.reused) {
        g.setAttribute(
          "class",
          `prw-node prw-tone-${v.tone}${v.reused ? " prw-reused" : ""}${id === this.selected ? " prw-selected" : ""}`,
        );
        parts.reuse.setAttribute("display", v.reused ? "inline" : "none");
        painted.tone = v.tone;
        painted.reused = v.reused;
      }
      if (painted.icon !== v.icon) parts.icon.textContent = painted.icon = v.icon;
      if (painted.sub !== v.sub) parts.sub.textContent = painted.sub = v.sub;
      if (painted.title !== v.title) parts.title.textContent = painted.title = v.title;
      if (painted.aria !== v.aria) {
        g.setAttribute("aria-label", v.aria);
        painted.aria = v.aria;
      }
    }
  }

  setSelected(id) {
    this.selected = id || "";
    this._markSelected();
  }

  _markSelected() {
    for (const [id, { g }] of this.nodes) {
      const on = id === this.selected;
      g.classList.toggle("prw-selected", on);
      g.setAttribute("aria-pressed", on ? "true" : "false");
    }
    for (const path of this.edges) {
      const on =
        Boolean(this.selected) &&
        (path.getAttribute("data-from") === this.selected || path.getAttribute("data-to") === this.selected);
      path.classList.toggle("prw-edge-active", on);
      path.setAttribute("marker-end", `url(#${on ? this.activeMarkerId : this.markerId})`);
    }
  }

  focusNode(id) {
    this.nodes.get(id)?.g.focus?.();
  }

  // Scrolls the graph so that node `id` is in view (centred), unless it already is.
  // Before the view is laid out (no width yet) it waits for the first resize.
  revealNode(id) {
    const p = this.layout?.positions.get(id);
    const sc = this.scroller;
    this.pendingReveal = p && !sc.clientWidth ? id : null;
    if (!p || !sc.clientWidth) return;
    const { scale } = this;
    const [x0, x1, y0, y1] = [p.x * scale, (p.x + NODE_W) * scale, p.y * scale, (p.y + NODE_H) * scale];
    if (x0 < sc.scrollLeft || x1 > sc.scrollLeft + sc.clientWidth) {
      sc.scrollLeft = Math.max(0, p.cx * scale - sc.clientWidth / 2);
    }
    if (y0 < sc.scrollTop || y1 > sc.scrollTop + sc.clientHeight) {
      sc.scrollTop = Math.max(0, p.cy * scale - sc.clientHeight / 2);
    }
  }

  // --- zoom ---------------------------------------------------------------------------------

  // Call once the view is in the page: fits the width now rather than at the first resize.
  mounted() {
    if (this.autoFit) this._autoFit();
  }

  // Fits the width, but not below MIN_AUTO_SCALE (50 steps stay readable; the rest scrolls).
  _autoFit() {
    const avail = this.scroller.clientWidth;
    const width = this.layout?.width ?? 0;
    if (!avail || !width) return this._applyScale();
    this.scale = clamp((avail - 4) / width, MIN_AUTO_SCALE, 1);
    this._applyScale();
  }

  fit() {
    const avail = this.scroller.clientWidth;
    const width = this.layout?.width ?? 0;
    this.autoFit = false;
    if (avail && width) this.scale = clamp((avail - 4) / width, MIN_SCALE, MAX_SCALE);
    this._applyScale();
  }

  setScale(scale, anchorX, anchorY) {
    this.autoFit = false;
    const old = this.scale;
    const next = clamp(scale, MIN_SCALE, MAX_SCALE);
    const ax = Number.isFinite(anchorX) ? anchorX : this.scroller.clientWidth / 2;
    const ay = Number.isFinite(anchorY) ? anchorY : this.scroller.clientHeight / 2;
    const cx = (this.scroller.scrollLeft + ax) / old;
    const cy = (this.scroller.scrollTop + ay) / old;
    this.scale = next;
    this._applyScale();
    this.scroller.scrollLeft = Math.max(0, cx * next - ax);
    this.scroller.scrollTop = Math.max(0, cy * next - ay);
  }

  zoomBy(factor, anchorX, anchorY) {
    this.setScale(this.scale * factor, anchorX, anchorY);
  }

  _applyScale() {
    const { width = 0, height = 0 } = this.layout ?? {};
    this.svg.setAttribute("width", String(Math.round(width * this.scale)));
    this.svg.setAttribute("height", String(Math.round(height * this.scale)));
    this.zoomLabel.textContent = `${Math.round(this.scale * 100)}%`;
  }

  dispose() {
    this.resizeObserver?.disconnect();
  }
}
