// @ts-check
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
import { STATUSES } from "./status.js";
import { groupTestKey, matchSteps } from "./graph_groups.js";

// The pipeline graph: dagre lays it out (left to right by default), SVG draws it. The layout
// runs only when the graph itself changes (setGraph with a new key); status changes repaint the
// node groups in place (paint), and the clock only rewrites the duration texts.
// Wide layers arrive collapsed into group nodes (graph_groups.js); a click on one lists its
// steps. A legend says what each colour and shape means, edges carry the names of the data
// that flows, and a search box finds a step by name.

export const NODE_W = 184;
export const NODE_H = 54;
const NAME_X = 30;
const NAME_MAX = 20; // characters of a name that fit the node at the CSS font size
const LABEL_MAX = 14; // characters of an edge label that fit between two columns
const MIN_SCALE = 0.1;
const MAX_SCALE = 2;
const MIN_AUTO_SCALE = 0.6; // the first fit never shrinks text below this
const REVEAL_MIN_SCALE = 0.5; // a step found by the search is shown at least this large
const NARROW_MAX_NODES = 40; // graphs this small may turn top to bottom in a narrow pane
// The graph area's max-height in pipeline_widget.css (.prw-graph-scroll), for Fit.
export const GRAPH_MAX_H = 480;

let instances = 0;

// Positions for every node (top-left corner) and a polyline per edge. Edges that carry data
// get a wider gap between columns, for their label.
export function layoutGraph({ nodes, edges }, { rankdir = "LR" } = {}) {
  const g = new graphlib.Graph();
  const labelled = edges.some((e) => e[2]?.length);
  g.setGraph({ rankdir, nodesep: 18, ranksep: labelled ? 92 : 56, edgesep: 12, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: NODE_W, height: NODE_H });
  for (const [from, to] of edges) g.setEdge(from, to);
  dagreLayout(g);
  const positions = new Map();
  for (const n of nodes) {
    const p = g.node(n.id);
    positions.set(n.id, { x: p.x - NODE_W / 2, y: p.y - NODE_H / 2, cx: p.x, cy: p.y });
  }
  const paths = edges.map(([from, to, data]) => ({
    from,
    to,
    data: data ?? [],
    points: g.edge(from, to)?.points ?? [],
  }));
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

// The point halfway along a polyline (where an edge's label goes), or null.
export function midPoint(points) {
  const pts = points.filter((p) => Number.isFinite(p?.x) && Number.isFinite(p?.y));
  if (!pts.length) return null;
  let total = 0;
  for (let i = 1; i < pts.length; i++) total += Math.hypot(pts[i].x - pts[i - 1].x, pts[i].y - pts[i - 1].y);
  let left = total / 2;
  for (let i = 1; i < pts.length; i++) {
    const len = Math.hypot(pts[i].x - pts[i - 1].x, pts[i].y - pts[i - 1].y);
    if (len >= left && len > 0) {
      const t = left / len;
      return { x: pts[i - 1].x + t * (pts[i].x - pts[i - 1].x), y: pts[i - 1].y + t * (pts[i].y - pts[i - 1].y) };
    }
    left -= len;
  }
  return { x: pts[0].x, y: pts[0].y };
}

// "a-very-long-step-name-here" -> "a-very-long-step-na…" (by code points, never mid-surrogate).
export function shortName(name, max = NAME_MAX) {
  const chars = Array.from(name);
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : name;
}

// An edge's label and tooltip from the names of the data on it: "model", "d_0 +197".
/**
 * Where an edge's label is centred: its edge's middle, moved in so the whole label stays inside
 * the picture (a label at the left edge was cut to "ataset").
 * @param {number} x the edge's middle
 * @param {string} text the label
 * @param {number} width the picture's width
 * @returns {number}
 */
export function labelX(x, text, width) {
  const half = (String(text).length * EDGE_LABEL_CHAR_PX) / 2 + 2;
  if (width <= 2 * half) return width / 2;
  return Math.min(width - half, Math.max(half, x));
}

/** About how wide one character of an edge label is, in the picture's units (11px text). */
const EDGE_LABEL_CHAR_PX = 6.6;

export function edgeLabel(names) {
  if (!names?.length) return { text: "", title: "" };
  const text = names.length === 1 ? shortName(names[0], LABEL_MAX) : `${shortName(names[0], LABEL_MAX - 5)} +${names.length - 1}`;
  const shown = names.slice(0, 20).join(", ");
  const title = `Data: ${shown}${names.length > 20 ? `, … (${names.length} in all)` : ""}`;
  return { text, title };
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

// Fit: the whole graph in the area (width and height), never above 100 %.
export function fitScale({ availWidth, availHeight, width, height }) {
  if (!availWidth || !width) return 1;
  const byWidth = (availWidth - 4) / width;
  const byHeight = availHeight && height ? (availHeight - 4) / height : Infinity;
  return clamp(Math.min(byWidth, byHeight, 1), MIN_SCALE, 1);
}

// What each colour and shape means; the swatches are drawn by the same CSS as the nodes
// (.prw-swatch beside .prw-node in pipeline_widget.css), so they cannot disagree.
export const LEGEND = [
  { status: "NotStarted", text: "Not started: waits for the steps before it" },
  { status: "Queued", text: "Queued: ready, waits for a free slot to run" },
  { status: "Running", text: "Running: thick border" },
  { status: "Finished", text: "Finished" },
  { status: "Failed", text: "Failed" },
  { status: "Canceled", text: "Canceled" },
  { status: "NotResponding", text: "Not responding: its runner has not been heard from lately" },
];

function legendSwatch(cls, status, icon, stacked = false) {
  const parts = [];
  if (stacked) parts.push(svg("rect", { class: "prw-node-stack", x: 4.5, y: 0.5, width: 22, height: 13, rx: 2 }));
  parts.push(
    svg("rect", { class: "prw-node-box", x: 0.75, y: stacked ? 3.5 : 0.75, width: 22, height: stacked ? 11 : 13.5, rx: 2.5 }),
    svg("text", { class: "prw-node-icon", x: 11.75, y: 11.5, "text-anchor": "middle", text: icon }),
  );
  return svg(
    "svg",
    { class: "prw-legend-swatch", width: 28, height: 16, viewBox: "0 0 28 16", "aria-hidden": "true" },
    svg("g", { class: cls, "data-status": status }, ...parts),
  );
}

export class GraphView {
  constructor({ onSelect = () => {}, rankdir = "LR" } = {}) {
    instances += 1;
    const uid = `prw-${instances}-${Math.random().toString(36).slice(2, 8)}`;
    this.onSelect = onSelect;
    this.rankdir = rankdir;
    this.baseRankdir = rankdir;
    this.autoRankdir = rankdir === "LR";
    this.graph = null;
    this.layouts = {};
    this.layoutCount = 0;
    this.key = null;
    this.layout = null;
    this.nodes = new Map(); // id -> { g, parts, painted, node }
    this.edges = [];
    this.edgeLabels = [];
    this.groups = new Map();
    this.groupOf = new Map();
    this.allNodes = [];
    this.views = new Map();
    this.selected = "";
    this.openGroupId = null;
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
    this.labelLayer = svg("g", { class: "prw-edge-labels" });
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
      this.labelLayer,
      this.nodeLayer,
    );
    this.empty = h("div", { class: "prw-graph-empty", text: "This pipeline has no steps.", hidden: true });
    this.scroller = h("div", { class: "prw-graph-scroll" }, this.svg, this.empty);
    this.zoomLabel = h("span", { class: "prw-zoom-label", "aria-live": "polite", text: "100%" });
    const button = (text, label, fn) =>
      h("button", { type: "button", class: "srw-button prw-zoom-button", title: label, "aria-label": label, text, onclick: fn });
    this._buildSearch(uid);
    this.toolbar = h(
      "div",
      { class: "prw-graph-toolbar", role: "toolbar", "aria-label": "Zoom and search" },
      button("−", "Zoom out", () => this.zoomBy(1 / 1.25)),
      button("+", "Zoom in", () => this.zoomBy(1.25)),
      button("Fit", "Fit the whole graph", () => this.fit()),
      button("1:1", "Actual size", () => this.setScale(1)),
      this.zoomLabel,
      this.searchBox,
    );
    this.legendGroup = h("span", { class: "prw-legend-item", title: "A group of steps: click it to list them", hidden: true },
      legendSwatch("prw-swatch prw-group prw-tone-muted", "", "▦", true), h("span", { text: "Group" }));
    this.legend = h(
      "div",
      { class: "prw-legend", "data-testid": "prw-legend", role: "note", "aria-label": "Legend" },
      ...LEGEND.map(({ status, text }) => {
        const info = STATUSES[status];
        return h("span", { class: "prw-legend-item", title: text, "data-status": status },
          legendSwatch(`prw-swatch prw-tone-${info.tone}`, status, info.icon), h("span", { text: info.label }));
      }),
      h("span", { class: "prw-legend-item", title: "Reused: its results come from an earlier run" },
        legendSwatch("prw-swatch prw-tone-success prw-reused", "Finished", "♻"), h("span", { text: "Reused" })),
      this.legendGroup,
      h("span", { class: "prw-legend-item prw-legend-edge", title: "An arrow is labelled with the data that flows along it" },
        h("span", { class: "prw-legend-arrow", "aria-hidden": "true", text: "→" }), h("span", { text: "data" })),
    );
    this.groupPanel = h("div", { class: "prw-group-panel", "data-testid": "prw-group-panel", hidden: true });
    // data-lm-suppress-shortcuts: JupyterLab leaves keys pressed here to us (Enter on a node
    // would otherwise put the notebook cell in edit mode).
    this.el = h(
      "div",
      { class: "prw-graph-wrap", "data-lm-suppress-shortcuts": "true" },
      this.toolbar,
      this.legend,
      this.scroller,
      this.groupPanel,
    );

    const activate = (target) => {
      const id = this._nodeId(target);
      if (id == null) return false;
      if (this.groups.has(id)) this.toggleGroup(id);
      else this.onSelect(id);
      return true;
    };
    this.svg.addEventListener("click", (event) => activate(event.target));
    this.svg.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " " && event.key !== "Spacebar") return;
      if (activate(event.target)) event.preventDefault();
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
        this._relayoutForWidth();
        if (this.autoFit) this._autoFit();
        if (this.pendingReveal) this.revealNode(this.pendingReveal);
      });
      this.resizeObserver.observe(this.scroller);
    }
  }

  // A search box over every step name: the browser's own type-ahead (a datalist), Enter or a
  // pick from the list selects the best match as a click on its node would.
  _buildSearch(uid) {
    this.datalist = h("datalist", { id: `${uid}-steps` });
    this.searchInput = h("input", {
      type: "search",
      class: "prw-search-input",
      "data-testid": "prw-search",
      placeholder: "Find a step…",
      "aria-label": "Find a step by name",
      list: `${uid}-steps`,
      autocomplete: "off",
      spellcheck: "false",
    });
    this.searchNote = h("span", { class: "prw-search-note", "aria-live": "polite" });
    this.searchBox = h("span", { class: "prw-search", role: "search" }, this.searchInput, this.datalist, this.searchNote);
    const choose = () => {
      const [best] = matchSteps(this.searchInput.value, this.allNodes, 1);
      this.searchNote.textContent = best || !this.searchInput.value.trim() ? "" : "No step matches";
      if (best) this.showStep(best.id);
      return best;
    };
    this.searchInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        choose();
      } else if (event.key === "Escape") {
        this.searchInput.value = "";
        this.searchNote.textContent = "";
      }
    });
    // a pick from the datalist replaces the text with a whole step name: select it at once
    this.searchInput.addEventListener("input", (event) => {
      this.searchNote.textContent = "";
      const v = this.searchInput.value;
      if (event.inputType === "insertReplacementText" || (event.inputType == null && v)) {
        if (this.allNodes.some((n) => n.name === v)) choose();
      }
    });
  }

  _nodeId(target) {
    const g = target?.closest?.(".prw-node");
    return g && this.nodeLayer.contains(g) ? g.getAttribute("data-node-id") : null;
  }

  // Lays the graph out and rebuilds the SVG when `graph` (normalizeGraph, or groupGraph's result)
  // differs from the one shown. Returns whether it did.
  setGraph(graph) {
    if (graph.key === this.key) return false;
    this.key = graph.key;
    this.groups = graph.groups ?? new Map();
    this.groupOf = graph.groupOf ?? new Map();
    this.allNodes = graph.all ?? graph.nodes;
    this.datalist.replaceChildren(...this.allNodes.map((n) => h("option", { value: n.name })));
    this.legendGroup.hidden = this.groups.size === 0;
    if (this.openGroupId && !this.groups.has(this.openGroupId)) this.closeGroup();
    this.graph = graph;
    this.layouts = { [this.baseRankdir]: layoutGraph(graph, { rankdir: this.baseRankdir }) };
    this.layoutCount += 1;
    this.rankdir = this._pickRankdir();
    this._render();
    return true;
  }

  // A narrow pane: when the left-to-right picture would have to shrink below MIN_AUTO_SCALE and a
  // top-to-bottom one of the same (small) graph fits clearly larger, draw that instead.
  _pickRankdir() {
    const base = this.baseRankdir;
    const avail = this.scroller.clientWidth;
    const graph = this.graph;
    if (!this.autoRankdir || !avail || !graph || graph.nodes.length > NARROW_MAX_NODES) return base;
    const lr = this.layouts[base];
    const fitOf = (l) => fitScale({ availWidth: avail, availHeight: Infinity, width: l.width, height: l.height });
    if (!lr.width || fitOf(lr) >= MIN_AUTO_SCALE) return base;
    this.layouts.TB ??= layoutGraph(graph, { rankdir: "TB" });
    return fitOf(this.layouts.TB) > 1.25 * fitOf(lr) ? "TB" : base;
  }

  _relayoutForWidth() {
    if (!this.graph) return;
    const want = this._pickRankdir();
    if (want === this.rankdir) return;
    this.rankdir = want;
    this._render();
  }

  _render() {
    const graph = this.graph;
    this.layout = this.layouts[this.rankdir];
    const { positions, edges, width, height } = this.layout;

    const edgeEls = [];
    const labelEls = [];
    for (const { from, to, points, data } of edges) {
      edgeEls.push(
        svg("path", {
          class: "prw-edge",
          d: edgePath(points),
          "marker-end": `url(#${this.markerId})`,
          "data-from": from,
          "data-to": to,
        }),
      );
      const label = edgeLabel(data);
      const at = label.text ? midPoint(points) : null;
      if (at) {
        labelEls.push(
          svg(
            "text",
            {
              class: "prw-edge-label",
              x: r(labelX(at.x, label.text, width)),
              y: r(at.y - 4),
              "text-anchor": "middle",
              "data-from": from,
              "data-to": to,
              "data-testid": "prw-edge-label",
            },
            svg("title", { text: label.title }),
            label.text,
          ),
        );
      }
    }
    // DOM (and so Tab) order follows the picture: by column, then top to bottom.
    const order = [...graph.nodes].sort((a, b) => {
      const pa = positions.get(a.id);
      const pb = positions.get(b.id);
      return this.rankdir === "LR" || this.rankdir === "RL" ? pa.x - pb.x || pa.y - pb.y : pa.y - pb.y || pa.x - pb.x;
    });
    this.nodes = new Map();
    const nodeEls = order.map((node) => {
      const p = positions.get(node.id);
      const group = Boolean(node.group);
      const parts = {
        title: svg("title"),
        stack: group
          ? svg("rect", { class: "prw-node-stack", x: 6, y: -5, width: NODE_W, height: NODE_H, rx: 6, ry: 6 })
          : null,
        box: svg("rect", { class: "prw-node-box", width: NODE_W, height: NODE_H, rx: 6, ry: 6 }),
        stripe: svg("rect", { class: "prw-node-stripe", x: 0.5, y: 0.5, width: 6, height: NODE_H - 1, rx: 3, ry: 3 }),
        icon: svg("text", { class: "prw-node-icon", x: 18, y: 24, "text-anchor": "middle", "aria-hidden": "true" }),
        name: svg("text", { class: "prw-node-name", x: NAME_X, y: 24 }),
        sub: svg("text", { class: "prw-node-sub", x: NAME_X, y: 42 }),
        reuse: group
          ? svg("g", { class: "prw-group-bar" })
          : svg("text", {
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
          class: group ? "prw-node prw-group" : "prw-node",
          transform: `translate(${r(p.x)},${r(p.y)})`,
          tabindex: 0,
          role: "button",
          "aria-pressed": "false",
          ...(group ? { "aria-expanded": node.id === this.openGroupId ? "true" : "false" } : {}),
          "data-node-id": node.id,
          "data-testid": group ? `prw-group-${groupTestKey(node.group)}` : `prw-node-${node.id}`,
        },
        ...[parts.title, parts.stack, parts.box, parts.stripe, parts.icon, parts.name, parts.sub, parts.reuse].filter(Boolean),
      );
      this.nodes.set(node.id, { g, parts, node, group, painted: {} });
      return g;
    });
    // the nodes are new elements: a focused one (a resize relayout, a new graph) keeps the focus
    const active = this.nodeLayer.getRootNode().activeElement;
    const focused = active && this.nodeLayer.contains(active) ? active.getAttribute("data-node-id") : null;
    this.edges = edgeEls;
    this.edgeLabels = labelEls;
    this.edgeLayer.replaceChildren(...edgeEls);
    this.labelLayer.replaceChildren(...labelEls);
    this.nodeLayer.replaceChildren(...nodeEls);
    if (focused) this.nodes.get(focused)?.g.focus?.();
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.empty.hidden = graph.nodes.length > 0;
    this.svg.style.display = graph.nodes.length > 0 ? "" : "none";
    if (this.autoFit) this._autoFit();
    else this._applyScale();
    this._markSelected();
    if (this.views.size) this.paint(this.views);
  }

  // Repaints every node from its view (pipeline_steps.nodeView, graph_groups.groupView): only
  // what changed is written to the DOM.
  paint(views) {
    this.views = views;
    for (const [id, entry] of this.nodes) {
      const v = views.get(id);
      if (!v) continue;
      const { g, parts, painted, group } = entry;
      if (painted.status !== v.status) {
        g.setAttribute("data-status", v.status);
        painted.status = v.status;
      }
      if (painted.tone !== v.tone || painted.reused !== v.reused) {
        g.setAttribute(
          "class",
          `prw-node${group ? " prw-group" : ""} prw-tone-${v.tone}${v.reused ? " prw-reused" : ""}${
            this._isSelected(id) ? " prw-selected" : ""
          }`,
        );
        if (!group) parts.reuse.setAttribute("display", v.reused ? "inline" : "none");
        painted.tone = v.tone;
        painted.reused = v.reused;
      }
      if (painted.icon !== v.icon) parts.icon.textContent = painted.icon = v.icon;
      if (painted.sub !== v.sub) {
        parts.sub.textContent = painted.sub = v.sub;
        if (group) this._paintGroupBar(parts.reuse, v);
      }
      if (painted.title !== v.title) parts.title.textContent = painted.title = v.title;
      if (painted.aria !== v.aria) {
        g.setAttribute("aria-label", v.aria);
        painted.aria = v.aria;
      }
    }
    if (this.openGroupId) this._paintGroupPanel();
  }

  // A thin bar along the bottom of a group node: one segment per status, as wide as its count.
  _paintGroupBar(bar, v) {
    const x0 = 10;
    const w = NODE_W - 20;
    let x = x0;
    const segs = [];
    for (const item of v.items ?? []) {
      const width = (w * item.count) / Math.max(1, v.total);
      segs.push(svg("rect", { class: `prw-group-seg srw-tone-${item.tone}`, x: r(x), y: NODE_H - 8, width: r(width), height: 3 }));
      x += width;
    }
    bar.replaceChildren(...segs);
  }

  // --- groups ---------------------------------------------------------------------------------

  toggleGroup(id) {
    if (this.openGroupId === id) this.closeGroup();
    else this.openGroup(id);
  }

  // Lists a group's steps under the graph (failed and running first), each a button that
  // selects its step; `highlight` marks one of them (the step a search found).
  openGroup(id, highlight = "") {
    if (!this.groups.has(id)) return;
    this.openGroupId = id;
    this.groupHighlight = highlight;
    this.groupPanelKey = null;
    this.scrolledTo = null;
    for (const [gid, { g, group }] of this.nodes) if (group) g.setAttribute("aria-expanded", gid === id ? "true" : "false");
    this._paintGroupPanel();
    this.groupPanel.hidden = false;
  }

  closeGroup() {
    this.openGroupId = null;
    this.groupPanelKey = null;
    this.groupPanel.hidden = true;
    this.groupPanel.replaceChildren();
    for (const { g, group } of this.nodes.values()) if (group) g.setAttribute("aria-expanded", "false");
  }

  // Rebuilt only when the order of the list changes (a step changed status); otherwise the
  // texts change in place, so the list keeps its scroll position and the focused button.
  _paintGroupPanel() {
    const group = this.groups.get(this.openGroupId);
    if (!group) return this.closeGroup();
    const views = this.views;
    const rank = (id) => {
      const i = GROUP_PANEL_ORDER.indexOf(views.get(id)?.status ?? "NotStarted");
      return i < 0 ? GROUP_PANEL_ORDER.length : i;
    };
    const members = [...group.members].sort((a, b) => rank(a) - rank(b));
    const key = JSON.stringify([group.id, members]);
    if (key !== this.groupPanelKey) {
      this.groupPanelKey = key;
      this._buildGroupPanel(group, members);
    }
    const gv = views.get(group.id);
    this.groupTitle.textContent = gv?.counts ? `${group.name}: ${gv.counts}` : group.name;
    for (const [id, item] of this.groupItems) {
      const v = views.get(id) ?? { name: id, icon: "", sub: "", tone: "muted", title: id };
      const on = id === this.selected || id === this.groupHighlight;
      const cls = `prw-group-step srw-tone-${v.tone}${on ? " prw-group-step-on" : ""}`;
      if (item.button.className !== cls) item.button.className = cls;
      item.button.setAttribute("aria-pressed", id === this.selected ? "true" : "false");
      if (item.icon.textContent !== v.icon) item.icon.textContent = v.icon;
      if (item.sub.textContent !== v.sub) item.sub.textContent = v.sub;
      if (item.button.title !== (v.title ?? v.name)) item.button.title = v.title ?? v.name;
    }
    if (this.groupHighlight !== this.scrolledTo) {
      this.scrolledTo = this.groupHighlight;
      this.groupItems.get(this.groupHighlight)?.button.scrollIntoView?.({ block: "nearest" });
    }
  }

  _buildGroupPanel(group, members) {
    const list = this.groupPanel.querySelector(".prw-group-list");
    const scrollTop = list?.scrollTop ?? 0;
    // inside a shadow root (marimo) document.activeElement is the host
    const active = this.groupPanel.getRootNode().activeElement;
    const focused = this.groupPanel.contains(active) ? active?.getAttribute("data-node-id") : null;
    this.groupItems = new Map();
    const close = h("button", {
      type: "button",
      class: "srw-button prw-group-close",
      "aria-label": "Close the list",
      title: "Close the list",
      text: "×",
      onclick: () => this.closeGroup(),
    });
    const items = members.map((id) => {
      const icon = h("span", { class: "prw-group-step-icon", "aria-hidden": "true" });
      const sub = h("span", { class: "prw-group-step-sub" });
      const button = h(
        "button",
        {
          type: "button",
          class: "prw-group-step",
          "data-node-id": id,
          "data-testid": `prw-group-step-${id}`,
          onclick: () => this.onSelect(id),
        },
        icon,
        h("span", { class: "prw-group-step-name", text: this.views.get(id)?.name ?? id }),
        sub,
      );
      this.groupItems.set(id, { button, icon, sub });
      return h("li", {}, button);
    });
    this.groupTitle = h("span", { class: "prw-group-title" });
    const ul = h("ul", { class: "prw-group-list", "aria-label": group.name }, ...items);
    this.groupPanel.replaceChildren(h("div", { class: "prw-group-head" }, this.groupTitle, close), ul);
    ul.scrollTop = scrollTop;
    if (focused) this.groupItems.get(focused)?.button.focus?.();
  }

  // --- selection --------------------------------------------------------------------------------

  _isSelected(id) {
    return Boolean(this.selected) && (id === this.selected || id === this.groupOf.get(this.selected));
  }

  setSelected(id) {
    this.selected = id || "";
    this._markSelected();
    if (this.openGroupId) this._paintGroupPanel();
  }

  _markSelected() {
    const shown = this.groupOf.get(this.selected) ?? this.selected;
    for (const [id, { g }] of this.nodes) {
      const on = this._isSelected(id);
      g.classList.toggle("prw-selected", on);
      g.setAttribute("aria-pressed", on ? "true" : "false");
    }
    const active = (el) => Boolean(shown) && (el.getAttribute("data-from") === shown || el.getAttribute("data-to") === shown);
    for (const path of this.edges) {
      const on = active(path);
      path.classList.toggle("prw-edge-active", on);
      path.setAttribute("marker-end", `url(#${on ? this.activeMarkerId : this.markerId})`);
    }
    for (const label of this.edgeLabels) label.classList.toggle("prw-edge-label-active", active(label));
  }

  focusNode(id) {
    this.nodes.get(this.groupOf.get(id) ?? id)?.g.focus?.();
  }

  // What the search does with the step it found: zoom in when the graph is too small to read,
  // open its group's list when it is in one, scroll it into view, and select it.
  showStep(id) {
    const gid = this.groupOf.get(id);
    if (gid) this.openGroup(gid, id);
    if (this.scale < REVEAL_MIN_SCALE) {
      this.autoFit = false;
      this.scale = 1;
      this._applyScale();
    }
    this.onSelect(id);
    this.revealNode(id);
  }

  // Scrolls the graph so that node `id` (or the group holding it) is in view (centred), unless
  // it already is. Before the view is laid out (no width yet) it waits for the first resize.
  revealNode(id) {
    const p = this.layout?.positions.get(this.groupOf.get(id) ?? id);
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
    this._relayoutForWidth();
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

  // The height Fit may use: the area's own height once the user resized it, else its max-height.
  _availHeight() {
    const sc = this.scroller;
    if (sc.style.height) return sc.clientHeight;
    const max = Number.parseFloat(globalThis.getComputedStyle?.(sc)?.maxHeight ?? "");
    return Number.isFinite(max) && max > 0 ? max : GRAPH_MAX_H;
  }

  // The whole graph in view (width and height), never zoomed in past 100 %.
  fit() {
    const { width = 0, height = 0 } = this.layout ?? {};
    this.autoFit = false;
    this.scale = fitScale({ availWidth: this.scroller.clientWidth, availHeight: this._availHeight(), width, height });
    this._applyScale();
    this.scroller.scrollLeft = 0;
    this.scroller.scrollTop = 0;
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

// The group list's order: what needs a look first.
const GROUP_PANEL_ORDER = ["Failed", "NotResponding", "Running", "Queued", "NotStarted", "Canceled", "Finished"];
