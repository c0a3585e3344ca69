"""Static HTML snapshots of a widget's last state, for places where no widget runs.

GitHub, nbviewer, ``nbconvert`` exports opened offline and static sites show this instead of
"Loading widget…". A snapshot is self-contained: inline CSS, no script, every piece of server
text escaped.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from datetime import datetime, timezone

#: ANSI escape sequences (CSI and OSC); the snapshot shows logs as plain text, so they are removed.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
SNAPSHOT_LOG_LINES = 200

COLOURS = {
    "Finished": ("#1a7f37", "✔"), "Failed": ("#cf222e", "✖"), "Canceled": ("#9a6700", "⊘"),
    "Running": ("#0969da", "▶"), "Queued": ("#57606a", "…"), "NotStarted": ("#57606a", "○"),
    "NotResponding": ("#bc4c00", "⚠"),
}

CSS = """
.srw-snap{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;color:#1f2328;
 border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;max-width:960px;background:#fff}
.srw-snap .badge{display:inline-block;border:1px solid currentColor;border-radius:10px;padding:0 8px;
 font-weight:600}
.srw-snap .muted{color:#57606a}
.srw-snap .err{color:#cf222e;margin:4px 0}
.srw-snap table{border-collapse:collapse;margin:6px 0}
.srw-snap td,.srw-snap th{border-bottom:1px solid #d0d7de;padding:2px 10px 2px 0;text-align:left}
.srw-snap pre{background:#f6f8fa;padding:6px;max-height:360px;overflow:auto;white-space:pre-wrap;
 word-break:break-all;font-size:12px;margin:4px 0}
.srw-snap h4{margin:8px 0 2px;font-size:13px}
.srw-snap .charts{display:flex;flex-wrap:wrap;gap:8px}
.srw-snap figure{margin:0;border:1px solid #d0d7de;border-radius:4px;padding:4px}
.srw-snap figcaption{font-size:12px;color:#57606a;max-width:320px}
.srw-snap svg text{font-size:10px;fill:#57606a}
"""


#: Added to the widgets' CSS: where a live view renders, the static companion output is hidden.
HIDE_COMPANION_CSS = """
.srw-snapshot-companion{display:none!important}
.jp-OutputArea-child:has(.srw-snapshot-companion){display:none!important}
"""


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def human_size(size: int | None) -> str:
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def duration(start_ms: float | None, end_ms: float | None) -> str:
    if not start_ms or not end_ms:
        return ""
    seconds = max(0.0, (end_ms - start_ms) / 1000)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {sec:02d}s" if hours else f"{minutes}m {sec:02d}s"


def badge(status: str) -> str:
    colour, icon = COLOURS.get(status, ("#57606a", "?"))
    return f'<span class="badge" style="color:{colour}">{icon} {esc(status)}</span>'


def _when(ms: float | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def wrap(body: str, kind: str) -> str:
    return (f'<div class="srw-snap srw-snapshot-{kind}"><style>{CSS}</style>{body}'
            f'<div class="muted" style="margin-top:4px">snapshot of the last state</div></div>')


def step_html(state: dict) -> str:
    """The snapshot of a StepRunWidget's state (its synced traits)."""
    facts = [f"run {esc(state.get('run_id', ''))}"]
    if state.get("end_time"):
        facts.append(duration(state.get("start_time"), state.get("end_time")))
    if state.get("start_time"):
        facts.append("started " + _when(state.get("start_time")))
    parts = [f'<div>{badge(state.get("status", ""))} <b>{esc(state.get("name", ""))}</b> '
             f'<span class="muted">{" · ".join(facts)}</span></div>']
    reuse = state.get("reuse") or {}
    if reuse.get("run_id"):
        origin = f" (pipeline {esc(reuse['pipeline_run_id'])})" if reuse.get("pipeline_run_id") else ""
        parts.append(f'<div class="muted">♻ reused results of run {esc(reuse["run_id"])}{origin}</div>')
    if state.get("error"):
        parts.append(f'<div class="err">{esc(state["error"])}</div>')
    outputs = state.get("outputs") or []
    if outputs:
        rows = "".join(f"<tr><td>{esc(o.get('name', ''))}</td><td>{human_size(o.get('size'))}</td>"
                       f"<td>{esc(o.get('file_count') if o.get('file_count') is not None else '–')}</td></tr>"
                       for o in outputs)
        parts.append(f"<h4>Outputs</h4><table><tr><th>name</th><th>size</th><th>files</th></tr>{rows}</table>")
    elif state.get("outputs_on_request"):
        parts.append('<h4>Outputs</h4><div class="muted">not listed (a run of another tool: '
                     '"List outputs" in the live view lists them)</div>')
    parts.append(metrics_html(state.get("metrics") or {}, state.get("params") or {},
                              state.get("images") or []))
    for stream, log in (state.get("logs") or {}).items():
        tail = log.get("tail", "") if isinstance(log, dict) else ""
        if not tail:
            continue
        lines = strip_ansi(tail).split("\n")
        shown = lines[-SNAPSHOT_LOG_LINES:]
        more = "" if len(shown) == len(lines) and not log.get("first_line") else \
            f' <span class="muted">(last {len(shown)} lines)</span>'
        parts.append(f"<h4>{esc(stream)}{more}</h4><pre>{esc(chr(10).join(shown))}</pre>")
    return wrap("".join(parts), "step")


def pipeline_html(state: dict) -> str:
    """The snapshot of a PipelineRunWidget's state: status, counts and one row per step."""
    steps: Iterable[dict] = state.get("steps") or []
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.get("status", "")] = counts.get(step.get("status", ""), 0) + 1
    summary = " · ".join(f"{n} {esc(s)}" for s, n in sorted(counts.items()))
    parts = [f'<div>{badge(state.get("status", ""))} <b>{esc(state.get("name", ""))}</b> '
             f'<span class="muted">pipeline run {esc(state.get("run_id", ""))} · {summary}</span></div>']
    if state.get("error"):
        parts.append(f'<div class="err">{esc(state["error"])}</div>')
    rows = "".join(
        f"<tr><td>{esc(s.get('name', ''))}</td><td>{badge(s.get('status', ''))}</td>"
        f"<td>{duration(s.get('start_time'), s.get('end_time'))}</td>"
        f"<td>{'♻ ' + esc(s.get('reused_run_id', '')) if s.get('reused') else ''}</td>"
        f"<td class='err'>{esc(s.get('error', ''))}</td></tr>" for s in steps)
    parts.append("<table><tr><th>step</th><th>status</th><th>duration</th><th>reused</th>"
                 f"<th>error</th></tr>{rows}</table>")
    parts.append(pipeline_metrics_html(state.get("metrics_table") or {}, state.get("steps") or []))
    return wrap("".join(parts), "pipeline")


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


def chart_svg(name: str, entry: dict) -> str:
    """One metric as an inline SVG line chart (the trait's downsampled points), with a title,
    min/max labels on both axes and a caption that says the same in words."""
    points = [(p[0], number(p[1])) for p in entry.get("points") or []
              if isinstance(p, (list, tuple)) and len(p) >= 2 and isinstance(p[0], (int, float))]
    finite = [(x, y) for x, y in points if y is not None and math.isfinite(y)]
    count = entry.get("count", len(points))
    odd = len(points) - len(finite)
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

    # A value that is not finite breaks the line (it has no place on the y axis).
    segments: list[list[str]] = [[]]
    for x, y in points:
        if y is not None and math.isfinite(y):
            segments[-1].append(f"{sx(x):.1f},{sy(y):.1f}")
        elif segments[-1]:
            segments.append([])
    lines = "".join(
        f'<polyline fill="none" stroke="#0969da" stroke-width="1.5" points="{" ".join(seg)}"/>'
        if len(seg) > 1 else
        f'<circle cx="{seg[0].split(",")[0]}" cy="{seg[0].split(",")[1]}" r="2" fill="#0969da"/>'
        for seg in segments if seg)  # an isolated value is a dot
    last = points[-1][1] if points else None
    words = (f"{name}: {count} values, steps {fmt(x0)} to {fmt(x1)}, min {fmt(y0)}, max {fmt(y1)}, "
             f"last {fmt(last)}" + (f"; {odd} shown values are not finite" if odd else ""))
    bottom, right = CHART_H - _PAD_B, CHART_W - _PAD_R
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" height="{CHART_H}" '
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


def metrics_html(metrics: dict, params: dict, images: list) -> str:
    """Charts of the metrics logged more than once, a table of the ones logged once, the params."""
    parts = []
    charted = {k: v for k, v in sorted(metrics.items()) if isinstance(v, dict) and v.get("count", 0) > 1}
    once = {k: v for k, v in sorted(metrics.items()) if isinstance(v, dict) and k not in charted}
    if charted:
        parts.append('<h4>Metrics</h4><div class="charts">'
                     + "".join(chart_svg(k, v) for k, v in charted.items()) + "</div>")
    if once:
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(fmt((v.get('points') or [[0, '']])[-1][1]))}</td>"
                       f"<td class='muted'>{esc(v.get('description', ''))}</td></tr>"
                       for k, v in once.items())
        parts.append(f"<h4>{'Values' if charted else 'Metrics'}</h4><table><tr><th>metric</th>"
                     f"<th>value</th><th></th></tr>{rows}</table>")
    if params:
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in sorted(params.items()))
        parts.append(f"<h4>Parameters</h4><table><tr><th>name</th><th>value</th></tr>{rows}</table>")
    if images:
        names = ", ".join(esc(i.get("name", "")) for i in images if isinstance(i, dict))
        parts.append(f'<h4>Images</h4><div class="muted">{names}</div>')
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
    more = (f'<div class="muted">{len(names) - len(shown)} more metrics not shown</div>'
            if len(names) > len(shown) else "")
    return f"<h4>Metrics (last values)</h4><table><tr><th>step</th>{head}</tr>{body}</table>{more}"


def companion(fragment: str) -> str:
    """The snapshot as a second output beside the live view (shown only where no widget renders)."""
    return f'<div class="srw-snapshot-companion">{fragment}</div>'


def standalone_page(fragment: str, title: str) -> str:
    """A whole HTML page around a snapshot (``save_html``)."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title></head><body>{fragment}</body></html>\n")
