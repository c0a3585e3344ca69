"""The static snapshot of a RunComparison: the same tables and charts as inert HTML and SVG."""

from __future__ import annotations

from collections.abc import Mapping

from steprun_widgets.core.compare import MANY_RUNS
from steprun_widgets.widgets.snapshot import SERIES_NAMES, _table, chart_svg, fmt, wrap
from steprun_widgets.widgets.snapshot_parts import badge, elapsed, esc, human_size


def _cell(value: object) -> str:
    return "–" if value is None else esc(value)


def compare_html(state: Mapping) -> str:
    """The snapshot of a RunComparison's state (``RunComparison.snapshot_state``)."""
    runs = [r for r in state.get("runs") or [] if isinstance(r, Mapping)]
    labels = [str(r.get("label", "")) for r in runs]
    going = (' <span class="srw-muted">(some were still running when saved)</span>'
             if state.get("live") else "")
    parts = [f'<div class="srw-head"><b>Comparison of {len(runs)} runs</b>{going}</div>']
    if len(runs) > MANY_RUNS:  # a sweep: one row per run, not a column per run
        return wrap("".join(parts) + _sweep_html(state.get("sweep") or {}, runs), "compare")
    parts.append(_table(["#", "run", "kind", "status", "colour"], [
        f"<tr><td>{i + 1}</td><td>{esc(r.get('label', ''))} <code>{esc(r.get('id', ''))}</code></td>"
        f"<td>{esc(r.get('kind', ''))}</td><td>{badge(str(r.get('status', '')))}</td>"
        f"<td>{SERIES_NAMES[i % len(SERIES_NAMES)]}</td></tr>" for i, r in enumerate(runs)]))
    steps = state.get("steps") or []
    if steps:
        rows = []
        for step in steps:
            cells = []
            for cell in step.get("cells") or []:
                if not cell:
                    cells.append("<td>–</td>")
                    continue
                took = cell.get("duration_ms")
                cells.append(f"<td>{badge(str(cell.get('status', '')))}"
                             f"{' · ' + elapsed(took / 1000) if isinstance(took, (int, float)) else ''}"
                             f"{' · ♻ reused' if cell.get('reused') else ''}</td>")
            rows.append(f"<tr><td class='srw-name'>{esc(step.get('name', ''))}</td>{''.join(cells)}</tr>")
        parts.append("<h4>Steps</h4>" + _table(["step", *map(esc, labels)], rows))
    params = state.get("params") or []
    if params:
        differing = sum(1 for p in params if p.get("differs"))
        rows = [f"<tr><td class='srw-name'>{'≠ ' if p.get('differs') else ''}{esc(p.get('name', ''))}</td>"
                + "".join(f"<td>{_cell(v)}</td>" for v in p.get("values") or []) + "</tr>" for p in params]
        parts.append(f"<h4>Parameters ({differing} differ, listed first)</h4>"
                     + _table(["parameter", *map(esc, labels)], rows))
    finals = state.get("finals") or {}
    names = finals.get("names") or []
    if names:
        best = finals.get("best") or {}
        rows = []
        for i, values in enumerate(finals.get("values") or []):
            cells = "".join(
                f"<td class='srw-num'>{'★ ' if best.get(n) == i else ''}"
                f"{fmt(v) if v is not None else '–'}</td>"
                for n, v in zip(names, values, strict=False))
            rows.append(f"<tr><td>{esc(labels[i] if i < len(labels) else i)}</td>{cells}</tr>")
        parts.append("<h4>Final metric values (★ best of each column)</h4>"
                     + _table(["run", *map(esc, names)], rows))
    charts = state.get("charts") or []
    if charts:
        def label(i: object) -> str:
            return labels[i] if isinstance(i, int) and 0 <= i < len(labels) else ""

        figures = "".join(
            chart_svg(str(c.get("name", "")), {},
                      [(label(s.get("run")), s.get("points") or []) for s in c.get("series") or []])
            for c in charts)
        parts.append(f"<h4>Metrics</h4><div class='srw-charts'>{figures}</div>")
    outputs = state.get("outputs") or []
    if outputs:
        rows = []
        for out in outputs:
            sizes = "".join(f"<td class='srw-num'>{human_size(s) if s is not None else '–'}"
                            f"{f' ({f} files)' if f is not None else ''}</td>"
                            for s, f in zip(out.get("sizes") or [], out.get("files") or [], strict=False))
            differs = {True: "differ", False: "same sizes", None: "–"}[out.get("differs")]
            rows.append(f"<tr><td class='srw-name'>{esc(out.get('name', ''))}</td>{sizes}"
                        f"<td>{differs}</td></tr>")
        parts.append("<h4>Outputs</h4>" + _table(["output", *map(esc, labels), "bytes"], rows))
    diff = state.get("log_diff") or {}
    if diff:
        if diff.get("same"):
            log = esc(diff.get("log", "stdout"))
            parts.append(f"<h4>Logs</h4><div>the two {log} logs are the same</div>")
        else:
            lines = diff.get("lines") or [None, None]
            parts.append(f"<h4>Logs: first differing {esc(diff.get('log', 'stdout'))} line, "
                         f"line {esc(diff.get('line', ''))}</h4>"
                         + "".join(f"<pre>{esc(labels[i] if i < len(labels) else i)}: "
                                   f"{'(log ended)' if line is None else esc(line)}</pre>"
                                   for i, line in enumerate(lines)))
    return wrap("".join(parts), "compare")


def _sweep_html(sweep: Mapping, runs: list[Mapping]) -> str:
    columns = [c for c in sweep.get("columns") or [] if isinstance(c, Mapping)]
    rows = []
    for row in sweep.get("rows") or []:
        index = row[0] if row and isinstance(row[0], int) and 0 <= row[0] < len(runs) else None
        run = runs[index] if index is not None else {}
        cells = "".join(f"<td class='srw-num'>{'–' if v is None else esc(fmt(v))}</td>" for v in row[1:])
        rows.append(f"<tr><td>{esc(run.get('label', ''))}</td><td>{badge(str(run.get('status', '')))}</td>"
                    f"{cells}</tr>")
    head = ["run", "status", *(esc(c.get("name", "")) for c in columns)]
    return "<h4>Runs</h4>" + _table(head, rows)
