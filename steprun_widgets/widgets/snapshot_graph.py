"""The pipeline graph of a snapshot: inline SVG drawn from :mod:`graph_layout`.

Each node looks like the live widget's (js/src/dag.js): a box and a stripe in the status colour,
the status icon, the step's name and "Status · duration", ♻ on a reused step; a dashed box marks
a reused step, a thicker one a running step. Colours are SVG presentation attributes, not CSS,
so the picture keeps them where a renderer strips ``<style>``. A sanitiser that drops ``<svg>``
drops the whole picture: the snapshot's step table says the same in words.
"""

from __future__ import annotations

from collections.abc import Mapping

from steprun_widgets.widgets.graph_layout import NODE_H, NODE_W, GraphLayout, layout_graph
from steprun_widgets.widgets.snapshot_parts import FG, MUTED, SUCCESS, duration, esc, look

NAME_MAX = 20  # characters of a name that fit a node (the live widget's NAME_MAX)
EDGE = "#8c959f"
#: The picture is drawn at natural size up to this width, then shrunk, never below MIN_SCALE
#: (beyond that the snapshot scrolls sideways, as the live graph's first fit does).
FIT_WIDTH, MIN_SCALE = 940.0, 0.6


def short_name(name: str, limit: int = NAME_MAX) -> str:
    """A name cut to ``limit`` characters with "…" (by code points, as the live widget does)."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _num(v: float) -> str:
    return f"{round(v, 1):g}"


def edge_path(points: list[tuple[float, float]]) -> str:
    """A smooth path through the points: cubic pieces with level tangents at every point."""
    (x, y), rest = points[0], points[1:]
    d = [f"M{_num(x)},{_num(y)}"]
    for nx, ny in rest:
        mid = (x + nx) / 2
        d.append(f"C{_num(mid)},{_num(y)} {_num(mid)},{_num(ny)} {_num(nx)},{_num(ny)}")
        x, y = nx, ny
    return "".join(d)


def _arrow(points: list[tuple[float, float]]) -> str:
    (px, _), (x, y) = points[-2], points[-1]
    back = -8 if px <= x else 8  # an edge of a cycle runs right to left
    return (f'<path d="M{_num(x)},{_num(y)}l{back},-4v8z" fill="{EDGE}"/>')


def node_title(name: str, step: Mapping) -> str:
    """The words of a node (its SVG ``<title>``, a tooltip in browsers)."""
    status = str(step.get("status") or "NotStarted")
    took = duration(step.get("start_time"), step.get("end_time"))
    parts = [name, status + (f" · {took}" if took else "")]
    if step.get("reused"):
        origin = step.get("reused_run_id")
        parts.append("reused results" + (f" of run {origin}" if origin else ""))
    if step.get("why"):
        parts.append(str(step["why"]))
    if step.get("error"):
        parts.append(str(step["error"]))
    return "\n".join(parts)


def _node(node_id: str, name: str, step: Mapping, x: float, y: float) -> str:
    status = str(step.get("status") or "NotStarted")
    colour, icon = look(status)
    took = duration(step.get("start_time"), step.get("end_time"))
    sub = status + (f" · {took}" if took else "")
    reused = bool(step.get("reused"))
    box = (f'<rect width="{NODE_W}" height="{NODE_H}" rx="6" fill="#fff" stroke="{colour}" '
           f'stroke-width="{2.5 if status == "Running" else 1.5}"'
           + (' stroke-dasharray="5 3"' if reused else "") + "/>")
    return (f'<g transform="translate({_num(x)},{_num(y)})" data-node-id="{esc(node_id)}">'
            f"<title>{esc(node_title(name, step))}</title>{box}"
            f'<rect x="0.5" y="0.5" width="6" height="{NODE_H - 1}" rx="3" fill="{colour}"/>'
            f'<text x="18" y="24" text-anchor="middle" font-size="15" fill="{colour}">{icon}</text>'
            f'<text x="30" y="24" font-size="12.5" font-weight="600" fill="{FG}">'
            f"{esc(short_name(name))}</text>"
            f'<text x="30" y="42" font-size="11.5" fill="{MUTED}">{esc(sub)}</text>'
            + (f'<text x="{NODE_W - 10}" y="42" text-anchor="end" font-size="13" fill="{SUCCESS}">♻</text>'
               if reused else "")
            + "</g>")


def graph_svg(graph: Mapping | None, steps_by_node: Mapping[str, Mapping],
              layout: GraphLayout | None = None) -> str:
    """The pipeline graph as one inline ``<svg>`` ("" for a graph without nodes)."""
    layout = layout or layout_graph(graph)
    if not layout.order:
        return ""
    names = {str(n.get("id")): str(n.get("name") or n.get("id")) for n in (graph or {}).get("nodes") or []
             if isinstance(n, Mapping)}
    scale = max(MIN_SCALE, min(1.0, FIT_WIDTH / layout.width))
    edges = "".join(f'<path d="{edge_path(points)}" fill="none" stroke="{EDGE}" stroke-width="1.5"/>'
                    + _arrow(points) for _, _, points in layout.edges)
    nodes = "".join(_node(i, names.get(i, i), steps_by_node.get(i, {}), *layout.positions[i])
                    for i in layout.order)
    w, h = _num(layout.width), _num(layout.height)
    return (f'<svg class="srw-svg srw-graph" xmlns="http://www.w3.org/2000/svg" '
            f'width="{_num(layout.width * scale)}" '
            f'height="{_num(layout.height * scale)}" viewBox="0 0 {w} {h}" role="img" '
            f'aria-label="Pipeline graph, {len(layout.order)} steps" '
            f'font-family="system-ui,-apple-system,Segoe UI,sans-serif">'
            f'<rect width="{w}" height="{h}" fill="#fff"/>'
            f"<g>{edges}</g><g>{nodes}</g></svg>")
