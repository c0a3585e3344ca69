import { statusInfo, TERMINAL_STATUSES, formatElapsed } from "./status.js";

// Pure helpers over the PipelineRunWidget traits `graph` and `steps` (docs/widget-protocol.md).
// Everything here is data in, data out: the views in dag.js, timeline.js and detail.js paint it.

const str = (v) => (v == null ? "" : String(v));
export const isTime = (v) => typeof v === "number" && Number.isFinite(v);

// `graph` as the kernel sends it, checked and made canonical: string ids, each node once, edges
// only between known nodes, no self-loops, no duplicates; an edge keeps its data names. `key` changes exactly when the layout
// has to (ids, names or edges changed), so an equal graph set again does not relayout.
export function normalizeGraph(graph) {
  const nodes = [];
  const seen = new Set();
  for (const node of Array.isArray(graph?.nodes) ? graph.nodes : []) {
    const id = str(node?.id);
    if (!id || seen.has(id)) continue;
    seen.add(id);
    nodes.push({ id, name: str(node?.name) || id });
  }
  const edges = [];
  const pairs = new Set();
  for (const edge of Array.isArray(graph?.edges) ? graph.edges : []) {
    if (!Array.isArray(edge) || edge.length < 2) continue;
    const from = str(edge[0]);
    const to = str(edge[1]);
    const pair = JSON.stringify([from, to]);
    if (from === to || !seen.has(from) || !seen.has(to) || pairs.has(pair)) continue;
    pairs.add(pair);
    // the third item: names of the PipelineData that flow along the edge (text, may be absent)
    const data = Array.isArray(edge[2]) ? [...new Set(edge[2].map(str).filter(Boolean))] : [];
    edges.push(data.length ? [from, to, data] : [from, to]);
  }
  return { nodes, edges, key: JSON.stringify([nodes, edges]) };
}

// `steps` (a list) -> Map node_id -> step.
export function stepsByNode(steps) {
  const map = new Map();
  for (const step of Array.isArray(steps) ? steps : []) {
    if (step && typeof step === "object" && step.node_id != null) map.set(str(step.node_id), step);
  }
  return map;
}

// The rows to show: every graph node in graph order, then steps the graph does not name.
export function stepRows(graphNodes, stepMap) {
  const rows = graphNodes.map((n) => ({ id: n.id, name: n.name }));
  const known = new Set(rows.map((r) => r.id));
  for (const [id, step] of stepMap) {
    if (!known.has(id)) rows.push({ id, name: str(step.name) || id });
  }
  return rows;
}

export function stepStatus(step) {
  const s = step?.status;
  return typeof s === "string" && s ? s : "NotStarted";
}

const isTerminal = (step) => TERMINAL_STATUSES.has(stepStatus(step));

// Milliseconds the step ran: start -> end, or start -> now while it has no end and is not final.
// A step that has not started has none, whatever times it carries.
export function stepDuration(step, now) {
  if (!isTime(step?.start_time) || stepStatus(step) === "NotStarted") return null;
  if (isTime(step.end_time)) return Math.max(0, step.end_time - step.start_time);
  return isTerminal(step) ? null : Math.max(0, now - step.start_time);
}

// True while something about the step changes with the clock (a bar grows, a duration ticks).
export function stepIsLive(step) {
  if (!step || isTerminal(step) || isTime(step.end_time)) return false;
  return isTime(step.start_time) || isTime(step.queued_time);
}

// Everything a node (and the detail header) shows for a step, as plain strings.
export function nodeView(node, step, now) {
  const status = stepStatus(step);
  const info = statusInfo(status);
  const ms = stepDuration(step, now);
  const duration = ms == null ? "" : formatElapsed(ms);
  const reused = Boolean(step?.reused);
  const reusedFrom = reused ? str(step.reused_run_id) : "";
  const name = node.name || str(step?.name) || node.id;
  const error = str(step?.error);
  // why the step ran or was reused ("ran: train.py changed (3 lines) since run 3f2a…")
  const why = str(step?.why);
  const title = [
    name,
    `${info.label}${duration ? ` · ${duration}` : ""}`,
    reused ? `Reused results${reusedFrom ? ` of run ${reusedFrom}` : ""}` : "",
    why ? `Why: ${why}` : "",
    error,
  ]
    .filter(Boolean)
    .join("\n");
  return {
    status,
    tone: info.tone,
    icon: info.icon,
    label: info.label,
    duration,
    sub: duration ? `${info.label} · ${duration}` : info.label,
    reused,
    reusedFrom,
    name,
    error,
    why,
    runId: str(step?.run_id),
    title,
    aria: `${name}: ${info.label}${duration ? `, ${duration}` : ""}${reused ? ", reused" : ""}`,
  };
}

// Status order of the summary line; statuses the protocol does not name come last.
export const SUMMARY_ORDER = [
  "Finished",
  "Running",
  "Queued",
  "Failed",
  "NotResponding",
  "Canceled",
  "NotStarted",
];

// Counts by status over the rows (a node without a step counts as NotStarted), in SUMMARY_ORDER,
// zero counts left out; plus how many steps were reused.
export function summarize(rows, stepMap) {
  const counts = new Map();
  let reused = 0;
  for (const row of rows) {
    const step = stepMap.get(row.id);
    const status = stepStatus(step);
    counts.set(status, (counts.get(status) ?? 0) + 1);
    if (step?.reused) reused += 1;
  }
  const order = [
    ...SUMMARY_ORDER.filter((s) => counts.has(s)),
    ...[...counts.keys()].filter((s) => !SUMMARY_ORDER.includes(s)).sort(),
  ];
  return {
    items: order.map((status) => {
      const info = statusInfo(status);
      return { status, count: counts.get(status), label: info.label, tone: info.tone, icon: info.icon };
    }),
    reused,
    total: rows.length,
  };
}

// "3 Finished · 1 Running · 2 Queued"
export const summaryText = ({ items }) => items.map((i) => `${i.count} ${i.label}`).join(" · ");
