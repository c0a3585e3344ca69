"""Static HTML snapshots of a widget's last state, for places where no widget runs.

GitHub, nbviewer, ``nbconvert`` exports opened offline and static sites show this instead of
"Loading widget…". A snapshot is self-contained: inline CSS and SVG, no script, every piece of
server text escaped. It shows what the live view shows: for a pipeline the graph (inline SVG),
the per-status counts, a step table with the timeline's bars, the metrics table and the open
step's view; for a step its status, reuse, error, outputs with sizes, metrics charts and the log
tails with their ANSI colours. Where a renderer strips styles and SVG (GitHub keeps only basic
tags) the words stay: every status is an icon and a word, every picture has a table beside it.

The pieces live beside this module: :mod:`snapshot_parts` (escaping, status look),
:mod:`snapshot_graph` (the graph, laid out by :mod:`graph_layout`), :mod:`snapshot_timeline`
and :mod:`snapshot_logs` (ANSI to HTML).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from datetime import datetime, timezone

from steprun_widgets.core.layout import is_terminal
from steprun_widgets.widgets.graph_layout import layout_graph
from steprun_widgets.widgets.snapshot_graph import graph_svg
from steprun_widgets.widgets.snapshot_logs import SNAPSHOT_LOG_LINES, ansi_html, plain, tail_lines
from steprun_widgets.widgets.snapshot_parts import (  # noqa: F401  (names this module always had)
    SUMMARY_ORDER,
    badge,
    duration,
    esc,
    human_size,
    look,
    when,
)
from steprun_widgets.widgets.snapshot_timeline import (
    TimeRange,
    axis_svg,
    bar_svg,
    offset_text,
    time_range,
)

__all__ = ["SNAPSHOT_LOG_LINES", "companion", "pipeline_html", "standalone_page", "step_html"]

# The host page's CSS is strong where snapshots are shown: JupyterLab's (and nbconvert's) rendered
# HTML right-aligns table cells with ":not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td"
# (specificity 0,2,1), centres tables, shrinks every <svg> to the output's width and colours
# tables for a dark theme: the rules here are one step more specific (table.srw-tbl, pre.srw-log,
# svg.srw-graph).
#: Light colour -> (CSS variable, its dark value). The snapshot's HTML and SVG are written in the
#: light colours (kept where a renderer strips <style>); the stylesheet maps each to its variable,
#: which a dark host (JupyterLab dark, a Sphinx/pydata theme's dark mode, or a page without a theme
#: of its own when the system prefers dark) sets to the dark value.
PALETTE = {
    "#1f2328": ("fg", "#e6edf3"), "#59636e": ("muted", "#9198a1"), "#fff": ("bg", "#0d1117"),
    "#f6f8fa": ("bg-alt", "#161b22"), "#d0d7de": ("border", "#3d444d"), "#8c959f": ("line", "#656c76"),
    "#1a7f37": ("ok", "#3fb950"), "#cf222e": ("err", "#f85149"), "#9a6700": ("warn", "#d29922"),
    "#0969da": ("brand", "#4493f8"),
}
_LIGHT_VARS = ";".join(f"--srw-s-{name}:{light}" for light, (name, _) in PALETTE.items())
_DARK_VARS = ";".join(f"--srw-s-{name}:{dark}" for name, dark in PALETTE.values())
_MAPPED = "".join(
    f'.srw-snap [fill="{light}"]{{fill:var(--srw-s-{name})}}'
    f'.srw-snap [stroke="{light}"]{{stroke:var(--srw-s-{name})}}'
    f'.srw-snap [style*="color:{light}"]{{color:var(--srw-s-{name})!important}}'
    for light, (name, _) in PALETTE.items())

# Every class is prefixed "srw-" so no page framework restyles it (Bootstrap's .badge, a theme's
# .muted). Every colour is set, on every element that shows text (headings, <code>), since hosts
# colour those themselves (JupyterLab dark gives <pre><code> its light text; a Sphinx dark theme its
# headings). Dark: JupyterLab's body[data-jp-theme-light="false"], pydata/sphinx-book-theme's
# html[data-theme="dark"], or prefers-color-scheme: dark where the host says neither light nor dark.
CSS = ("""
.srw-snap{""" + _LIGHT_VARS + """}
:is(body[data-jp-theme-light="false"],html[data-theme="dark"]) .srw-snap{""" + _DARK_VARS + """}
@media (prefers-color-scheme:dark){html:not([data-theme="light"]) body:not([data-jp-theme-light]) """
       + ".srw-snap{" + _DARK_VARS + """}}
.srw-snap{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;color:var(--srw-s-fg);
 border:1px solid var(--srw-s-border);border-radius:6px;padding:8px 10px;max-width:980px;
 background:var(--srw-s-bg);text-align:left;line-height:1.4}
.srw-snap b,.srw-snap h4,.srw-snap td,.srw-snap th,.srw-snap div,.srw-snap span{color:inherit}
.srw-snap .srw-badge{display:inline-block;border:1px solid currentColor;border-radius:10px;padding:0 8px;
 font-weight:600;white-space:nowrap;font-size:13px;line-height:1.4;background:transparent}
.srw-snap .srw-muted{color:var(--srw-s-muted)}
.srw-snap .srw-err{color:var(--srw-s-err);margin:4px 0;white-space:pre-wrap}
.srw-snap table.srw-tbl{border-collapse:collapse;margin:6px 0;color:var(--srw-s-fg);table-layout:auto;
 font-size:13px;background:transparent}
.srw-snap table.srw-tbl td,.srw-snap table.srw-tbl th{border:0;border-bottom:1px solid var(--srw-s-border);
 padding:2px 12px 2px 0;text-align:left;vertical-align:middle;line-height:1.4;max-width:none;
 background:transparent;color:var(--srw-s-fg)}
.srw-snap table.srw-tbl tbody tr{background:transparent}
.srw-snap table.srw-tbl td.srw-num{font-variant-numeric:tabular-nums;white-space:nowrap}
.srw-snap table.srw-tbl td.srw-name{font-weight:600;white-space:nowrap}
.srw-snap table.srw-tbl td.srw-muted{color:var(--srw-s-muted)}
.srw-snap table.srw-tbl td.srw-err{color:var(--srw-s-err);min-width:14em}
.srw-snap table.srw-tbl code{font-size:11px;white-space:nowrap;background:transparent;padding:0;
 color:var(--srw-s-muted);border:0}
.srw-snap pre.srw-log{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace;
 background:var(--srw-s-bg-alt);color:var(--srw-s-fg);padding:6px 8px;max-height:360px;overflow:auto;
 white-space:pre-wrap;word-break:break-all;font-size:12px;line-height:1.45;margin:4px 0;text-align:left;
 border:0}
.srw-snap pre.srw-log code{font-family:inherit;background:transparent;padding:0;white-space:inherit;
 color:var(--srw-s-fg);font-size:inherit;border:0}
.srw-snap h4{margin:10px 0 2px;font-size:13px;color:var(--srw-s-fg);font-weight:600;line-height:1.4}
.srw-snap .srw-graph-wrap,.srw-snap .srw-scroll{overflow-x:auto;margin:6px 0}
.srw-snap svg.srw-svg{max-width:none}.srw-snap svg.srw-graph{height:auto}
.srw-snap .srw-charts{display:flex;flex-wrap:wrap;gap:8px}
.srw-snap figure{margin:0;border:1px solid var(--srw-s-border);border-radius:4px;padding:4px}
.srw-snap figcaption{font-size:12px;color:var(--srw-s-muted);max-width:320px}
.srw-snap figure svg text{font-size:10px;fill:var(--srw-s-muted)}
.srw-snap .srw-pane{border-left:3px solid var(--srw-s-brand);padding-left:8px;margin:8px 0}
""" + _MAPPED).replace("\n", "")


def strip_ansi(text: str) -> str:
    """Text without its escape sequences."""
    return plain(text)


def wrap(body: str, kind: str, status: str = "", saved_ms: float | None = None) -> str:
    return (f'<div class="srw-snap srw-snapshot-{kind}"><style>{CSS}</style>{sanitiser_proof(body)}'
            f'{caption(status, saved_ms)}</div>')


def caption(status: str, saved_ms: float | None = None) -> str:
    """What the snapshot is: the last state of a run that ended, or a run that was still going.

    An executed export (``jupyter nbconvert --execute``) saves a run as it was when the cell ran;
    a run not final then says so plainly, with the time (UTC) the snapshot was taken.
    """
    if not status or is_terminal(status):
        return '<div class="srw-muted" style="margin-top:4px">snapshot of the last state</div>'
    at = datetime.fromtimestamp((time.time() * 1000 if saved_ms is None else saved_ms) / 1000,
                                tz=timezone.utc).strftime("%H:%M UTC")
    word = {"NotStarted": "not started yet", "Queued": "still queued"}.get(status, "still running")
    return (f'<div class="srw-err" style="margin-top:4px;color:#9a6700;font-weight:600">⚠ {word} when this '
            f'notebook was saved at {at} — not updated since (the run may have ended later)</div>')


_SVG = re.compile(r"(<svg\b[^>]*>.*?</svg>)", re.S)
_CELL = re.compile(r"<(td|th)\b(?![^>]*\bstyle=)")


def sanitiser_proof(body: str) -> str:
    """The body in a form that still reads where a sanitiser drops ``<style>`` and ``<svg>``.

    JupyterLab's sanitiser (an untrusted notebook) removes ``<svg>`` but keeps its ``<text>``, which
    ran on as one line ("prep Finished · 3.0 s✔prep…", "0s10s20s"), and right-aligns table cells
    once our stylesheet is gone; it keeps inline ``style`` attributes. So each picture sits in a
    span of font size 0 (its leftover text is invisible; the SVG sets its own sizes), and each
    cell says ``text-align:left`` itself. GitHub-like sanitisers drop the SVG with its text and
    every style: the tables carry the same facts.
    """
    body = _SVG.sub(lambda m: ('<span class="srw-pic" style="font-size:0;line-height:0;'
                               f'display:inline-block">{_sized(m.group(1))}</span>'), body)
    return _CELL.sub(r'<\1 style="text-align:left"', body)


def _sized(svg: str) -> str:
    """An SVG with a font size of its own (it sits in a span of font size 0)."""
    end = svg.index(">")
    return svg if "font-size=" in svg[:end] else f'{svg[:end]} font-size="10"{svg[end:]}'



def _table(head: list[str], rows: list[str]) -> str:
    cells = "".join(f"<th>{h}</th>" for h in head)
    return (f'<table class="srw-tbl"><thead><tr>{cells}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table>")


# --- a step -----------------------------------------------------------------------------------------
def step_body(state: Mapping) -> str:
    """The inside of a step's snapshot: header, reuse, error, outputs, metrics, logs."""
    facts = [f"run {esc(state.get('run_id', ''))}"]
    if state.get("end_time"):
        facts.append(duration(state.get("start_time"), state.get("end_time")))
    if state.get("start_time"):
        facts.append("started " + when(state.get("start_time")))
    parts = [f'<div>{badge(state.get("status", ""))} <b>{esc(state.get("name", ""))}</b> '
             f'<span class="srw-muted">{" · ".join(facts)}</span></div>']
    reuse = state.get("reuse") or {}
    if reuse.get("run_id"):
        origin = f" (pipeline {esc(reuse['pipeline_run_id'])})" if reuse.get("pipeline_run_id") else ""
        parts.append(f'<div class="srw-muted">♻ reused results of run {esc(reuse["run_id"])}{origin}</div>')
    if state.get("error"):
        parts.append(f'<div class="srw-err">✖ {esc(state["error"])}</div>')
    outputs = state.get("outputs") or []
    if outputs:
        rows = [f"<tr><td class='srw-name'>{esc(o.get('name', ''))}</td>"
                f"<td class='srw-num'>{human_size(o.get('size'))}</td>"
                f"<td class='srw-num'>{esc('–' if o.get('file_count') is None else o['file_count'])}"
                "</td></tr>"
                for o in outputs]
        parts.append("<h4>Outputs</h4>" + _table(["name", "size", "files"], rows))
    elif state.get("outputs_on_request"):
        parts.append('<h4>Outputs</h4><div class="srw-muted">not listed (a run of another tool: '
                     '"List outputs" in the live view lists them)</div>')
    parts.append(metrics_html(state.get("metrics") or {}, state.get("params") or {},
                              state.get("images") or []))
    for stream, log in (state.get("logs") or {}).items():
        text = log.get("tail", "") if isinstance(log, Mapping) else ""
        if not text:
            continue
        shown, count, total = tail_lines(text)
        more = ("" if count == total and not log.get("first_line") else
                f' <span class="srw-muted">(last {count} lines)</span>')
        parts.append(f'<h4>{esc(stream)}{more}</h4><pre class="srw-log" '
                     f'style="font-family:ui-monospace,Menlo,Consolas,monospace;text-align:left">'
                     f"<code>{ansi_html(shown)}</code></pre>")
    return "".join(parts)


def step_html(state: Mapping) -> str:
    """The snapshot of a StepRunWidget's state (its synced traits)."""
    return wrap(step_body(state), "step", str(state.get("status") or ""))


# --- a pipeline -------------------------------------------------------------------------------------
def _summary(steps: list[Mapping]) -> str:
    counts: dict[str, int] = {}
    for step in steps:
        status = str(step.get("status") or "NotStarted")
        counts[status] = counts.get(status, 0) + 1
    order = [s for s in SUMMARY_ORDER if s in counts] + sorted(s for s in counts if s not in SUMMARY_ORDER)
    items = [f'<span style="color:{look(s)[0]}">{look(s)[1]} {counts[s]} {esc(s)}</span>' for s in order]
    reused = sum(1 for s in steps if s.get("reused"))
    if reused:
        items.append(f"♻ {reused} reused")
    return " · ".join(items) or "no steps"


def _short_id(run_id: str) -> str:
    """A run id cut to 8 characters for a table cell, the whole id in its tooltip."""
    if len(run_id) <= 9:
        return f"<code>{esc(run_id)}</code>"
    return f'<code title="{esc(run_id)}">{esc(run_id[:8])}…</code>'


def _offset(step: Mapping, rng: TimeRange | None) -> str:
    start = step.get("start_time")
    return f"+{offset_text(start - rng.t0)}" if rng and isinstance(start, (int, float)) and start else ""


def _step_rows(order: list[str], by_node: Mapping[str, Mapping], names: Mapping[str, str],
               pipeline: Mapping, now_ms: float) -> tuple[list[str], list[str]]:
    steps = [by_node.get(i, {}) for i in order]
    rng = time_range(steps, now_ms, pipeline)
    has_error = any(s.get("error") for s in steps)
    has_why = any(s.get("why") for s in steps)
    head = ["step", "status", "started", "duration", "reused from"]
    if has_why:
        head.append("why")
    if rng:
        head.append(axis_svg(rng))
    if has_error:
        head.append("error")
    rows = []
    for node_id, step in zip(order, steps, strict=True):
        origin = step.get("reused_run_id") or ""
        reused = f"♻ run {_short_id(origin)}" if step.get("reused") else "–"
        cells = [f"<td class='srw-name'>{esc(names.get(node_id, node_id))}</td>",
                 f"<td>{badge(str(step.get('status') or 'NotStarted'))}</td>",
                 f"<td class='srw-num'>{_offset(step, rng)}</td>",
                 f"<td class='srw-num'>{duration(step.get('start_time'), step.get('end_time'))}</td>",
                 f"<td class='srw-num'>{reused}</td>"]
        if has_why:
            cells.append(f"<td class='srw-why'>{esc(step.get('why') or '')}</td>")
        if rng:
            cells.append(f"<td>{bar_svg(step, rng, now_ms)}</td>")
        if has_error:
            cells.append(f"<td class='srw-err'>{esc(step.get('error', ''))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return head, rows


def pipeline_html(state: Mapping, now_ms: float | None = None) -> str:
    """The snapshot of a PipelineRunWidget's state: header, counts, graph, steps with their
    timeline bars, metrics table and the step view that is open (``selected_step_state``)."""
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    steps = [s for s in state.get("steps") or [] if isinstance(s, Mapping)]
    by_node = {str(s.get("node_id")): s for s in steps}
    graph = state.get("graph") or {}
    if not (graph.get("nodes") if isinstance(graph, Mapping) else None):  # no graph: the steps
        graph = {"nodes": [{"id": s.get("node_id"), "name": s.get("name")} for s in steps], "edges": []}
    layout = layout_graph(graph)
    names = {str(n.get("id")): str(n.get("name") or n.get("id")) for n in graph.get("nodes") or []
             if isinstance(n, Mapping)}
    for node_id, step in by_node.items():
        names.setdefault(node_id, str(step.get("name") or node_id))
    order = layout.order + [i for i in by_node if i not in layout.positions]

    facts = [f"pipeline run {esc(state.get('run_id', ''))}"]
    if state.get("end_time"):
        facts.append(duration(state.get("start_time"), state.get("end_time")))
    if state.get("start_time"):
        facts.append("started " + when(state.get("start_time")))
    parts = [f'<div>{badge(state.get("status", ""))} <b>{esc(state.get("name", ""))}</b> '
             f'<span class="srw-muted">{" · ".join(facts)}</span></div>',
             f"<div>{_summary([by_node.get(i, {}) for i in order])}</div>"]
    if state.get("error"):
        parts.append(f'<div class="srw-err">✖ {esc(state["error"])}</div>')
    svg = graph_svg(graph, by_node, layout)
    if svg:
        parts.append(f'<div class="srw-graph-wrap">{svg}</div>')
    if order:
        head, rows = _step_rows(order, by_node, names, state, now_ms)
        parts.append(f'<h4>Steps</h4><div class="srw-scroll">{_table(head, rows)}</div>')
    else:
        parts.append('<div class="srw-muted">This pipeline has no steps.</div>')
    parts.append(pipeline_metrics_html(state.get("metrics_table") or {}, steps))
    selected = state.get("selected_step_state")
    if isinstance(selected, Mapping):
        parts.append(f'<h4>Step view: {esc(selected.get("name", ""))}</h4>'
                     f'<div class="srw-pane">{step_body(selected)}</div>')
    return wrap("".join(parts), "pipeline", str(state.get("status") or ""), now_ms)


# --- metrics --------------------------------------------------------------------------------------
CHART_W, CHART_H = 320, 130
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 58, 8, 8, 22
SNAPSHOT_METRIC_COLUMNS = 40


def number(value: object) -> float | None:
    """A trait value as a float (the "NaN"/"Infinity" strings too); None when not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("NaN", "Infinity", "-Infinity"):
        return float(value)
    return None


def fmt(value: object, digits: int = 4) -> str:
    """A metric value for text: ``digits`` significant digits; NaN and ±Infinity spelled out."""
    number_ = number(value)
    if number_ is None:
        return str(value)
    if math.isnan(number_):
        return "NaN"
    if math.isinf(number_):
        return "Infinity" if number_ > 0 else "-Infinity"
    return f"{number_:.{digits}g}"


#: Line colours of the series of one chart (the first is the single-run chart's).
SERIES_COLOURS = ("#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#59636e")


def _chart_points(raw: object) -> list[tuple[float, float | None]]:
    return [(p[0], number(p[1])) for p in raw or []
            if isinstance(p, (list, tuple)) and len(p) >= 2 and isinstance(p[0], (int, float))]


def chart_svg(name: str, entry: dict, series: list[tuple[str, list]] | None = None) -> str:
    """One metric as an inline SVG line chart (the trait's downsampled points), with a title,
    min/max labels on both axes and a caption that says the same in words.

    ``series`` [(label, points), ...] draws one line per series instead (a comparison of runs),
    each in its colour, the caption naming each line's last value."""
    lines_in = [(label, _chart_points(points)) for label, points in series] if series is not None \
        else [("", _chart_points(entry.get("points")))]
    every = [pt for _, pts in lines_in for pt in pts]
    finite = [(x, y) for x, y in every if y is not None and math.isfinite(y)]
    count = entry.get("count", len(every))
    odd = len(every) - len(finite)
    if finite:
        xs, ys = [x for x, _ in finite], [y for _, y in finite]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    else:
        x0 = x1 = y0 = y1 = 0
    inner_w, inner_h = CHART_W - _PAD_L - _PAD_R, CHART_H - _PAD_T - _PAD_B

    def sx(x: float) -> float:
        return _PAD_L + (0.5 if x1 == x0 else (x - x0) / (x1 - x0)) * inner_w

    def sy(y: float) -> float:
        return _PAD_T + (0.5 if y1 == y0 else 1 - (y - y0) / (y1 - y0)) * inner_h

    lines = ""
    for i, (_, points) in enumerate(lines_in):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        # A value that is not finite breaks the line (it has no place on the y axis).
        segments: list[list[str]] = [[]]
        for x, y in points:
            if y is not None and math.isfinite(y):
                segments[-1].append(f"{sx(x):.1f},{sy(y):.1f}")
            elif segments[-1]:
                segments.append([])
        lines += "".join(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{" ".join(seg)}"/>'
            if len(seg) > 1 else
            f'<circle cx="{seg[0].split(",")[0]}" cy="{seg[0].split(",")[1]}" r="2" fill="{colour}"/>'
            for seg in segments if seg)  # an isolated value is a dot
    if series is None:
        last = lines_in[0][1][-1][1] if lines_in[0][1] else None
        lasts = f"last {fmt(last)}"
    else:
        lasts = "; ".join(f"{label} ({SERIES_NAMES[i % len(SERIES_NAMES)]}) last "
                          f"{fmt(pts[-1][1]) if pts else '–'}" for i, (label, pts) in enumerate(lines_in))
        count = len(every)
    words = (f"{name}: {count} values, steps {fmt(x0)} to {fmt(x1)}, min {fmt(y0)}, max {fmt(y1)}, "
             f"{lasts}" + (f"; {odd} shown values are not finite" if odd else ""))
    bottom, right = CHART_H - _PAD_B, CHART_W - _PAD_R
    svg = (f'<svg class="srw-svg" xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" '
           f'height="{CHART_H}" '
           f'viewBox="0 0 {CHART_W} {CHART_H}" role="img"><title>{esc(name)}</title>'
           f'<desc>{esc(words)}</desc>'
           f'<line x1="{_PAD_L}" y1="{_PAD_T}" x2="{_PAD_L}" y2="{bottom}" stroke="#8c959f"/>'
           f'<line x1="{_PAD_L}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#8c959f"/>'
           f'<text x="{_PAD_L - 3}" y="{_PAD_T + 8}" text-anchor="end">{esc(fmt(y1, 3))}</text>'
           f'<text x="{_PAD_L - 3}" y="{bottom}" text-anchor="end">{esc(fmt(y0, 3))}</text>'
           f'<text x="{_PAD_L}" y="{CHART_H - 6}">{esc(fmt(x0))}</text>'
           f'<text x="{right}" y="{CHART_H - 6}" text-anchor="end">{esc(fmt(x1))}</text>'
           f'{lines}</svg>')
    return f"<figure>{svg}<figcaption>{esc(words)}</figcaption></figure>"


#: The colours of SERIES_COLOURS in words (a caption must not rely on colour alone).
SERIES_NAMES = ("blue", "red", "green", "ochre", "purple", "pink", "teal", "grey")


def metrics_html(metrics: dict, params: dict, images: list) -> str:
    """Charts of the metrics logged more than once, a table of the ones logged once, the params."""
    parts = []
    charted = {k: v for k, v in sorted(metrics.items()) if isinstance(v, dict) and v.get("count", 0) > 1}
    once = {k: v for k, v in sorted(metrics.items()) if isinstance(v, dict) and k not in charted}
    if charted:
        parts.append('<h4>Metrics</h4><div class="srw-charts">'
                     + "".join(chart_svg(k, v) for k, v in charted.items()) + "</div>")
    if once:
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(fmt((v.get('points') or [[0, '']])[-1][1]))}</td>"
                       f"<td class='srw-muted'>{esc(v.get('description', ''))}</td></tr>"
                       for k, v in once.items())
        parts.append(f"<h4>{'Values' if charted else 'Metrics'}</h4><table class='srw-tbl'>"
                     f"<tr><th>metric</th><th>value</th><th></th></tr>{rows}</table>")
    if params:
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in sorted(params.items()))
        parts.append(f"<h4>Parameters</h4><table class='srw-tbl'><tr><th>name</th><th>value</th></tr>"
                     f"{rows}</table>")
    if images:
        names = ", ".join(esc(i.get("name", "")) for i in images if isinstance(i, dict))
        parts.append(f'<h4>Images</h4><div class="srw-muted">{names}</div>')
    return "".join(parts)


def pipeline_metrics_html(table: dict, steps: list) -> str:
    """The pipeline's step × metric table: the last value of each metric of each step."""
    names = [n for n in table.get("names") or [] if isinstance(n, str)]
    rows = [r for r in table.get("rows") or [] if isinstance(r, dict)]
    if not names or not rows:
        return ""
    shown = names[:SNAPSHOT_METRIC_COLUMNS]
    step_names = {s.get("node_id"): s.get("name", "") for s in steps if isinstance(s, dict)}
    head = "".join(f"<th>{esc(n)}</th>" for n in shown)
    body = "".join(
        f"<tr><td>{esc(step_names.get(r.get('node_id')) or r.get('run_id', ''))}</td>"
        + "".join(f"<td>{esc(fmt(r.get('values', {}).get(n))) if n in r.get('values', {}) else ''}</td>"
                  for n in shown) + "</tr>" for r in rows)
    more = (f'<div class="srw-muted">{len(names) - len(shown)} more metrics not shown</div>'
            if len(names) > len(shown) else "")
    return (f"<h4>Metrics (last values)</h4><table class='srw-tbl'><tr><th>step</th>{head}</tr>"
            f"{body}</table>{more}")


def companion(fragment: str) -> str:
    """The snapshot as a second output beside the live view (shown only where no widget renders)."""
    return f'<div class="srw-snapshot-companion">{fragment}</div>'


def standalone_page(fragment: str, title: str) -> str:
    """A whole HTML page around a snapshot (``save_html``)."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title></head><body>{fragment}</body></html>\n")
