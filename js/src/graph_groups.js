import { statusInfo } from "./status.js";
import { stepStatus, summarize } from "./pipeline_steps.js";

// Wide layers of a pipeline graph collapsed into group nodes, so that a 200-step fan-out stays an
// overview. Pure data in, data out: dag.js and timeline.js draw the result.
//
// A layer is the set of nodes at the same longest-path distance from a source (the columns of
// the left-to-right layout). A layer of more than MAX_LAYER nodes cannot be read at the graph
// area's height (480 px; 24 nodes are about two heights at the first fit's 60 %): its parallel
// steps (same steps before and after) collapse into one group each, and when that still leaves
// more than MAX_LAYER entries the whole layer becomes one group. Smaller layers are left alone,
// so a 50-step graph draws as before.

export const MAX_LAYER = 24;
const MIN_GROUP = 4; // fewer parallel steps than this stay nodes of their own

// id -> layer (longest path from a source). Nodes on a cycle (normalizeGraph allows them) get
// the layer after the last one their acyclic part reached.
export function layers(nodes, edges) {
  const indeg = new Map(nodes.map((n) => [n.id, 0]));
  const out = new Map(nodes.map((n) => [n.id, []]));
  for (const [from, to] of edges) {
    indeg.set(to, indeg.get(to) + 1);
    out.get(from).push(to);
  }
  const layer = new Map();
  const queue = nodes.filter((n) => indeg.get(n.id) === 0).map((n) => n.id);
  for (const id of queue) layer.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const to of out.get(id)) {
      layer.set(to, Math.max(layer.get(to) ?? 0, layer.get(id) + 1));
      indeg.set(to, indeg.get(to) - 1);
      if (indeg.get(to) === 0) queue.push(to);
    }
  }
  const next = Math.max(-1, ...layer.values()) + 1;
  for (const n of nodes) if (!layer.has(n.id)) layer.set(n.id, next);
  return layer;
}

// The graph to draw: `graph` (normalizeGraph) with wide layers collapsed. Returns
// { nodes, edges, key, groups: Map groupId -> group, groupOf: Map stepId -> groupId, all }, where a
// group node is { id, name, group: { id, name, members: [step ids], layer, index } } (index: which
// of its layer's groups) and `all` is every step node (what the search box looks through).
// Without a wide layer it is `graph` itself.
export function groupGraph(graph, { maxLayer = MAX_LAYER } = {}) {
  const groups = new Map();
  const groupOf = new Map();
  const plain = { ...graph, groups, groupOf, all: graph.nodes };
  if (graph.nodes.length <= maxLayer) return plain;
  const layer = layers(graph.nodes, graph.edges);
  const byLayer = new Map();
  for (const n of graph.nodes) {
    const l = layer.get(n.id);
    if (!byLayer.has(l)) byLayer.set(l, []);
    byLayer.get(l).push(n);
  }
  const wide = [...byLayer.entries()].filter(([, list]) => list.length > maxLayer).sort((a, b) => a[0] - b[0]);
  if (!wide.length) return plain;

  const ids = new Set(graph.nodes.map((n) => n.id));
  const freshId = (base) => {
    let id = base;
    while (ids.has(id) || groups.has(id)) id += "'";
    return id;
  };
  const preds = new Map(graph.nodes.map((n) => [n.id, []]));
  const succs = new Map(graph.nodes.map((n) => [n.id, []]));
  for (const [from, to] of graph.edges) {
    succs.get(from).push(to);
    preds.get(to).push(from);
  }
  const shown = (id) => groupOf.get(id) ?? id;
  const addGroup = (l, k, members, parallel) => {
    const id = freshId(`group:${l}:${k}`);
    const name = parallel ? `${members.length} parallel steps` : `${members.length} steps in layer ${l + 1}`;
    groups.set(id, { id, name, members: members.map((m) => m.id), layer: l, index: k, parallel });
    for (const m of members) groupOf.set(m.id, id);
  };
  for (const [l, list] of wide) {
    // earlier layers are grouped already: their groups count as one predecessor
    const sig = (n) =>
      JSON.stringify([[...new Set(preds.get(n.id).map(shown))].sort(), [...new Set(succs.get(n.id))].sort()]);
    const parts = new Map();
    for (const n of list) {
      const s = sig(n);
      if (!parts.has(s)) parts.set(s, []);
      parts.get(s).push(n);
    }
    const big = [...parts.values()].filter((p) => p.length >= MIN_GROUP);
    const entries = big.length + list.length - big.reduce((sum, p) => sum + p.length, 0);
    if (entries > maxLayer) addGroup(l, 0, list, parts.size === 1);
    else big.forEach((p, k) => addGroup(l, k, p, true));
  }

  const nodes = [];
  for (const n of graph.nodes) {
    const gid = groupOf.get(n.id);
    if (gid == null) nodes.push(n);
    else if (groups.get(gid).members[0] === n.id) nodes.push({ id: gid, name: groups.get(gid).name, group: groups.get(gid) });
  }
  const merged = new Map();
  for (const [from, to, data] of graph.edges) {
    const a = shown(from);
    const b = shown(to);
    if (a === b) continue;
    const key = JSON.stringify([a, b]);
    if (!merged.has(key)) merged.set(key, { a, b, data: new Set() });
    for (const name of data ?? []) merged.get(key).data.add(name);
  }
  const edges = [...merged.values()].map(({ a, b, data }) => (data.size ? [a, b, [...data]] : [a, b]));
  const key = JSON.stringify([nodes.map((n) => [n.id, n.name, n.group?.members ?? null]), edges]);
  return { nodes, edges, key, groups, groupOf, all: graph.nodes };
}

// What names a group in test ids: its layer, and which of the layer's groups ("1", "1-1", ...).
export const groupTestKey = (group) => (group.index ? `${group.layer}-${group.index}` : `${group.layer}`);

// The order in which a group's status is decided: the first status any member has, so a group
// with one failed step is Failed, one with a running step Running, and Finished only when all are.
const GROUP_STATUS_ORDER = ["Failed", "NotResponding", "Running", "Queued", "NotStarted", "Canceled", "Finished"];

export function groupStatus(members, stepMap) {
  const present = new Set(members.map((id) => stepStatus(stepMap.get(id))));
  return GROUP_STATUS_ORDER.find((s) => present.has(s)) ?? [...present][0] ?? "NotStarted";
}

// Everything a group node (and its timeline row) shows: counts by status as text, with the same
// fields as pipeline_steps.nodeView so dag.js paints it the same way.
export function groupView(group, stepMap) {
  const rows = group.members.map((id) => ({ id }));
  const summary = summarize(rows, stepMap);
  const status = groupStatus(group.members, stepMap);
  const info = statusInfo(status);
  const counts = summary.items.map((i) => `${i.count} ${i.label.toLowerCase()}`).join(" · ");
  const text = `${group.members.length} steps · ${counts}`;
  return {
    status,
    tone: info.tone,
    icon: "▦",
    label: info.label,
    name: group.name,
    sub: summary.items.map((i) => `${i.icon}${i.count}`).join(" "),
    items: summary.items,
    counts,
    total: group.members.length,
    reused: false,
    title: `${group.name}\n${text}\nClick to list them`,
    aria: `Group of ${text}`,
  };
}

// Step search: case-insensitive; an exact name first, then names starting with the query, then
// names with a word starting with it, then names containing it; shorter names first within each.
export function matchSteps(query, nodes, limit = 10) {
  const q = String(query ?? "")
    .trim()
    .toLowerCase();
  if (!q) return [];
  const scored = [];
  nodes.forEach((node, index) => {
    const name = String(node.name ?? node.id).toLowerCase();
    let rank = -1;
    if (name === q) rank = 0;
    else if (name.startsWith(q)) rank = 1;
    else if (name.split(/[^\p{L}\p{N}]+/u).some((w) => w && w.startsWith(q))) rank = 2;
    else if (name.includes(q)) rank = 3;
    if (rank >= 0) scored.push({ node, rank, len: name.length, index });
  });
  scored.sort((a, b) => a.rank - b.rank || a.len - b.len || a.index - b.index);
  return scored.slice(0, limit).map((s) => s.node);
}
