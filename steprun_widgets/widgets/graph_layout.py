"""A layered layout of the pipeline graph, for the static snapshot (no JavaScript there).

The live widget lays the graph out with dagre; this is the same idea, small enough to run in the
kernel at every snapshot: longest-path layers (a step sits one column right of its latest
input), a long edge passes its middle columns through placeholder ("dummy") slots so it is drawn
around the steps in between, and a few barycenter sweeps order each column to cut crossings.
Left to right, like the live graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NODE_W, NODE_H = 184, 54  # the live widget's node size (js/src/dag.js)
RANK_SEP, NODE_SEP, MARGIN = 56, 18, 12
DUMMY_H = 10  # the slot a long edge takes in a column it passes through
SWEEPS = 8


@dataclass(frozen=True)
class GraphLayout:
    """Where everything goes: each node's top-left corner, each edge's polyline, the size."""

    positions: dict[str, tuple[float, float]]
    edges: list[tuple[str, str, list[tuple[float, float]]]]
    #: Node ids in reading order: by column, then top to bottom (the live widget's tab order).
    order: list[str]
    layers: dict[str, int]
    width: float
    height: float


def normalize_graph(graph: Mapping | None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The ``graph`` trait made canonical, as the live view does (js/src/pipeline_steps.js):
    string ids, each node once, edges only between known nodes, no self-loops, no duplicates."""
    nodes: list[tuple[str, str]] = []
    seen: set[str] = set()
    for node in (graph or {}).get("nodes") or []:
        if not isinstance(node, Mapping):
            continue
        node_id = "" if node.get("id") is None else str(node.get("id"))
        if not node_id or node_id in seen:
            continue
        seen.add(node_id)
        nodes.append((node_id, str(node.get("name") or node_id)))
    edges: list[tuple[str, str]] = []
    for edge in (graph or {}).get("edges") or []:
        if not isinstance(edge, (list, tuple)) or len(edge) < 2:
            continue
        pair = (str(edge[0]), str(edge[1]))
        if pair[0] != pair[1] and pair[0] in seen and pair[1] in seen and pair not in edges:
            edges.append(pair)
    return nodes, edges


def assign_layers(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering: a node with no inputs is in column 0, any other one column right of
    its latest input. An edge that closes a cycle (a pipeline has none, but the graph comes from
    a server) is ignored for layering."""
    preds: dict[str, list[str]] = {i: [] for i in ids}
    succs: dict[str, list[str]] = {i: [] for i in ids}
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    indegree = {i: len(preds[i]) for i in ids}
    layer: dict[str, int] = {}
    ready = [i for i in ids if indegree[i] == 0]
    while len(layer) < len(ids):
        if not ready:  # a cycle: start again from the first node not placed yet
            stuck = next(i for i in ids if i not in layer)
            indegree[stuck] = 0
            ready.append(stuck)
        node = ready.pop(0)
        layer[node] = max((layer[p] + 1 for p in preds[node] if p in layer), default=0)
        for s in succs[node]:
            if s in layer:
                continue
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    return layer


def _columns(ids: list[str], edges: list[tuple[str, str]], layer: dict[str, int]
             ) -> tuple[list[list[str]], list[list[str]]]:
    """Columns of slots (node ids and dummy ids) and each edge's chain of slots, left to right."""
    columns: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for i in ids:
        columns[layer[i]].append(i)
    chains: list[list[str]] = []
    for k, (a, b) in enumerate(edges):
        lo, hi = layer[a], layer[b]
        if lo > hi:  # an edge of a cycle, drawn backwards: no dummies
            chains.append([a, b])
            continue
        chain = [a]
        for col in range(lo + 1, hi):
            dummy = f"\0{k}:{col}"  # no node id holds NUL, so a dummy never meets one
            columns[col].append(dummy)
            chain.append(dummy)
        chains.append([*chain, b])
    return columns, chains


def crossings(columns: list[list[str]], chains: list[list[str]]) -> int:
    """How many pairs of edge pieces cross between neighbouring columns."""
    where = {slot: (c, i) for c, col in enumerate(columns) for i, slot in enumerate(col)}
    by_gap: dict[int, list[tuple[int, int]]] = {}
    for chain in chains:
        for a, b in zip(chain, chain[1:], strict=False):
            (ca, ia), (cb, ib) = where[a], where[b]
            if cb == ca + 1:
                by_gap.setdefault(ca, []).append((ia, ib))
    total = 0
    for pieces in by_gap.values():
        for k, (a1, b1) in enumerate(pieces):
            total += sum(1 for a2, b2 in pieces[k + 1:] if (a1 - a2) * (b1 - b2) < 0)
    return total


def order_columns(columns: list[list[str]], chains: list[list[str]], sweeps: int = SWEEPS) -> None:
    """Barycenter ordering, in place: each column sorted by the mean position of its neighbours
    in the column before (then, sweeping back, after); ties keep the current order. The order
    with the fewest crossings seen over the sweeps is kept (a sweep can make things worse)."""
    left: dict[str, list[str]] = {}
    right: dict[str, list[str]] = {}
    for chain in chains:
        for a, b in zip(chain, chain[1:], strict=False):
            right.setdefault(a, []).append(b)
            left.setdefault(b, []).append(a)

    def sort(col: list[str], neighbours: dict[str, list[str]], pos: dict[str, int]) -> None:
        def key(item: tuple[int, str]) -> tuple[float, int]:
            index, slot = item
            near = [pos[n] for n in neighbours.get(slot, ()) if n in pos]
            return (sum(near) / len(near) if near else float(index), index)

        col[:] = [slot for _, slot in sorted(enumerate(col), key=key)]

    best, best_count = [list(c) for c in columns], crossings(columns, chains)
    for sweep in range(sweeps):
        if best_count == 0:
            break
        forward = sweep % 2 == 0
        span = range(1, len(columns)) if forward else range(len(columns) - 2, -1, -1)
        for c in span:
            near = columns[c - 1] if forward else columns[c + 1]
            sort(columns[c], left if forward else right, {s: i for i, s in enumerate(near)})
        count = crossings(columns, chains)
        if count < best_count:
            best, best_count = [list(c) for c in columns], count
    columns[:] = best


def layout_graph(graph: Mapping | None) -> GraphLayout:
    """Lay ``graph`` (the widget's ``graph`` trait) out left to right; see the module doc."""
    nodes, edges = normalize_graph(graph)
    ids = [i for i, _ in nodes]
    layer = assign_layers(ids, edges)
    columns, chains = _columns(ids, edges, layer)
    order_columns(columns, chains)

    def height(slot: str) -> float:
        return DUMMY_H if slot.startswith("\0") else NODE_H

    def column_height(col: list[str]) -> float:
        return sum(height(s) for s in col) + NODE_SEP * max(0, len(col) - 1)

    tallest = max((column_height(c) for c in columns), default=0.0)
    centre: dict[str, tuple[float, float]] = {}  # slot -> (x, y) of its centre
    for c, col in enumerate(columns):
        x = MARGIN + c * (NODE_W + RANK_SEP) + NODE_W / 2
        y = MARGIN + (tallest - column_height(col)) / 2  # columns centred on each other
        for slot in col:
            centre[slot] = (x, y + height(slot) / 2)
            y += height(slot) + NODE_SEP
    positions = {i: (centre[i][0] - NODE_W / 2, centre[i][1] - NODE_H / 2) for i in ids}
    routed = []
    for (a, b), chain in zip(edges, chains, strict=True):
        (ax, ay), (bx, by) = centre[a], centre[b]
        points = [(ax + NODE_W / 2, ay)]
        points += [centre[d] for d in chain[1:-1]]
        points.append((bx - NODE_W / 2, by))
        routed.append((a, b, points))
    reading = [s for col in columns for s in col if not s.startswith("\0")]
    width = MARGIN * 2 + len(columns) * NODE_W + RANK_SEP * max(0, len(columns) - 1)
    return GraphLayout(positions=positions, edges=routed, order=reading, layers=layer,
                       width=width if columns else 0, height=tallest + 2 * MARGIN if columns else 0)
