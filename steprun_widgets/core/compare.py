"""Two or more runs side by side, as plain data: what ``RunComparison`` shows and snapshots.

A compared run is a PipelineRun (its steps are matched by name across runs) or a StepRun (the
steps table then has one row per step name too). Everything here is read with the core client:

- steps: per step name and run, status, duration and whether it was reused;
- params: one row per parameter, the values per run, differing rows first;
- finals: the last value of every metric per run, the best per metric marked (the lowest for a
  name that reads like a loss or an error, the highest otherwise);
- charts: every metric logged more than once, one chart with a series per run (at most
  ``CHART_POINTS`` evenly spaced points a series, the first and the last kept);
- outputs: per output, its size and file count per run, and whether they differ (the tracking
  server gives no digests of artifacts, so the sizes and file lists decide: "differ" is certain,
  "same" means the same sizes);
- log_diff: for exactly two step runs, the first stdout line that differs, from each log.

For a pipeline run, a metric or parameter of a step is named ``step/metric``; the pipeline's own
PipelineParameter values are ``parameter <name>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from steprun_widgets.core import layout
from steprun_widgets.core.metrics import Point, latest_points, read_history
from steprun_widgets.core.rest import RunRecord
from steprun_widgets.core.runs import PipelineRun, StepRun
from steprun_widgets.errors import StepRunError

#: Points per run and metric in a chart.
CHART_POINTS = 500
#: Past this many runs (a sweep) no metric history and no output is read: the final values come
#: with the runs' records, and the comparison is the sweep table and its parallel coordinates.
MANY_RUNS = 10
#: A metric whose name matches this is better when lower.
LOWER_IS_BETTER = re.compile(r"loss|err|mse|mae|rmse|perplexity|time|latency|duration", re.I)


def check_runs(runs: Sequence[Any]) -> list[PipelineRun | StepRun]:
    """The runs to compare: two or more PipelineRuns or StepRuns (a clear error otherwise)."""
    runs = list(runs)
    if len(runs) < 2:
        raise StepRunError(f"compare() needs two or more runs, got {len(runs)}")
    for run in runs:
        if not isinstance(run, (PipelineRun, StepRun)):
            raise StepRunError(f"compare() takes PipelineRun or StepRun objects, got {type(run).__name__}")
    return runs


class Member:
    """One compared run and what was read of it (records of final runs are kept, not re-read)."""

    def __init__(self, run: PipelineRun | StepRun, *, details: bool = True) -> None:
        self.run = run
        #: False for a member of a sweep: latest metric values only, no histories, no outputs.
        self.details = details
        self.kind = "pipeline" if isinstance(run, PipelineRun) else "step"
        self.record: RunRecord | None = None
        #: step name -> (record of the run in this pipeline, record of the run with the results)
        self.steps: dict[str, tuple[RunRecord, RunRecord]] = {}
        self.histories: dict[str, list[Point]] = {}
        self.outputs: dict[str, tuple[int, int, tuple]] = {}
        self.final = False

    def refresh(self) -> None:
        if self.final:
            return
        rest = self.run._rest
        self.record = self.run._record(refresh=True)
        own = self.record
        if self.kind == "pipeline":
            steps = {}
            for record in self.run.step_records():
                reused = record.tags.get(layout.TAG_REUSED_RUN_ID)
                previous = self.steps.get(record.name)
                if reused:
                    kept = previous is not None and previous[1].run_id == reused
                    source = previous[1] if kept else rest.get_run(reused)
                else:
                    source = record
                steps[record.name] = (record, source)
            self.steps = steps
        else:
            self.steps = {self.run.name: (own, own)}
        self.final = layout.is_terminal(own.azureml_status()) and all(
            layout.is_terminal(r.azureml_status()) for r, _ in self.steps.values())
        self._read_histories()
        if self.details:
            self._read_outputs()

    def _prefix(self, step: str) -> str:
        return f"{step}/" if self.kind == "pipeline" else ""

    def _read_histories(self) -> None:
        rest = self.run._rest
        for step, (_, source) in self.steps.items():
            for key, point in latest_points(source.metrics).items():
                name = self._prefix(step) + key
                held = self.histories.get(name)
                if not self.details:
                    self.histories[name] = [point]
                elif point[0] > 0 and (held is None or held[-1][0] != point[0] or held[-1][1] != point[1]):
                    self.histories[name] = read_history(rest, source.run_id, key)
                elif held is None:
                    self.histories[name] = [point]

    def _read_outputs(self) -> None:
        rest = self.run._rest
        for step, (record, source) in self.steps.items():
            names = [n for n in record.tags.get(layout.TAG_OUTPUT_NAMES, "").split(",") if n]
            files = rest.walk_artifacts(source.run_id, layout.OUTPUTS_DIR) if names or not \
                layout.is_step_run(record.tags) else []
            by_output: dict[str, list] = {}
            for f in files:
                rel = f.path.split("/", 2)
                if len(rel) == 3:
                    by_output.setdefault(rel[1], []).append((rel[2], f.file_size or 0))
            for name in sorted(set(names) | set(by_output)):
                listed = sorted(by_output.get(name, []))
                self.outputs[self._prefix(step) + name] = (sum(s for _, s in listed), len(listed),
                                                          tuple(listed))

    def params(self) -> dict[str, str]:
        assert self.record is not None
        found: dict[str, str] = {}
        if self.kind == "pipeline":
            for key, value in self.record.params.items():
                if key.startswith(layout.PIPELINE_PARAMETER_PREFIX):
                    found[f"parameter {key[len(layout.PIPELINE_PARAMETER_PREFIX):]}"] = value
        for step, (_, source) in self.steps.items():
            for key, value in source.params.items():
                found[self._prefix(step) + key] = value
        return found

    def finals(self) -> dict[str, float]:
        return {name: points[-1][1] for name, points in self.histories.items() if points}


def _duration(record: RunRecord) -> float | None:
    start = record.started_ms or record.start_time
    return float(record.end_time - start) if start and record.end_time else None


def _label(member: Member, index: int) -> str:
    return f"#{index + 1} {member.run.name if member.record is None else member.record.name}"


def build_state(members: Sequence[Member]) -> dict:
    """The comparison as the widget's traits hold it (see the module docstring)."""
    runs = [{"id": m.run.id, "label": _label(m, i), "kind": m.kind,
             "status": m.record.azureml_status() if m.record else layout.NOT_STARTED}
            for i, m in enumerate(members)]
    step_names = _ordered(m.steps for m in members)
    steps = []
    for name in step_names:
        cells = []
        for m in members:
            pair = m.steps.get(name)
            if pair is None:
                cells.append(None)
                continue
            record, source = pair
            reused = record.tags.get(layout.TAG_REUSED_RUN_ID, "")
            cells.append({"status": record.azureml_status(), "duration_ms": _duration(source),
                          "reused": bool(reused), "run_id": source.run_id})
        steps.append({"name": name, "cells": cells})
    params = []
    all_params = [m.params() for m in members]
    for name in sorted(set().union(*all_params)):
        values = [p.get(name) for p in all_params]
        params.append({"name": name, "values": values, "differs": len(set(values)) > 1})
    params.sort(key=lambda r: not r["differs"])  # stable: by name within each part
    finals_by_run = [m.finals() for m in members]
    names = sorted(set().union(*finals_by_run))
    best = {}
    for name in names:
        values = [(f.get(name), i) for i, f in enumerate(finals_by_run) if _finite(f.get(name))]
        if len(values) > 1:
            pick = min if LOWER_IS_BETTER.search(name.rsplit("/", 1)[-1]) else max
            best[name] = pick(values)[1]
    finals = {"names": names, "values": [[f.get(name) for name in names] for f in finals_by_run],
              "best": best}
    charts = []
    for name in sorted(set().union(*(m.histories for m in members))):
        series = [{"run": i, "points": _bounded(m.histories[name])}
                  for i, m in enumerate(members) if name in m.histories]
        if any(len(m.histories.get(name, [])) > 1 for m in members):
            charts.append({"name": name, "series": series})
    outputs = []
    for name in _ordered(m.outputs for m in members):
        held = [m.outputs.get(name) for m in members]
        known = [h for h in held if h is not None]
        outputs.append({"name": name, "sizes": [h[0] if h else None for h in held],
                        "files": [h[1] if h else None for h in held],
                        "differs": len({h[2] for h in known}) > 1 if len(known) > 1 else None})
    return {"runs": runs, "steps": steps, "params": params, "finals": finals, "charts": charts,
            "outputs": outputs, "sweep": sweep_table(runs, params, finals) if len(members) > 2 else {}}


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if _finite(number) else None


def sweep_table(runs: list[dict], params: list[dict], finals: dict) -> dict:
    """Runs as rows, the parameters that differ and the final metric values as columns: what the
    sortable table and the parallel-coordinates view of many runs show.

    ``{"columns": [{"name", "kind": "param" | "metric", "numeric": bool}], "rows": [[run index,
    value, ...]]}``; a column is numeric when every value it has reads as a number.
    """
    columns, cells = [], []
    for p in params:
        if p["differs"]:
            values = p["values"]
            numeric = all(_number(v) is not None for v in values if v is not None)
            columns.append({"name": p["name"], "kind": "param", "numeric": numeric})
            cells.append([_number(v) if numeric and v is not None else v for v in values])
    for j, name in enumerate(finals["names"]):
        columns.append({"name": name, "kind": "metric", "numeric": True})
        cells.append([_wire(v[j]) if isinstance(v[j], float) else v[j] for v in finals["values"]])
    rows = [[i, *(column[i] for column in cells)] for i in range(len(runs))]
    return {"columns": columns, "rows": rows}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and value == value and value not in (float("inf"), float("-inf"))


def _ordered(keyed: Iterable[Iterable[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for keys in keyed:
        for key in keys:
            seen.setdefault(key, None)
    return list(seen)


def _bounded(points: list[Point]) -> list[list]:
    if len(points) > CHART_POINTS:
        every = (len(points) - 1) / (CHART_POINTS - 1)
        points = [points[round(i * every)] for i in range(CHART_POINTS)]
    return [[p[0], _wire(p[1]), p[2]] for p in points]


def _wire(value: float) -> float | str:
    """A value as JSON can carry it (NaN and infinities as text, as the step widget's points)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def first_log_difference(a: str, b: str) -> dict | None:
    """The first line where two logs differ: ``{"line": number from 1, "lines": [a's, b's]}``
    (a log that ended gives ``None`` for its side); None when they are equal."""
    left, right = a.splitlines(), b.splitlines()
    for i in range(max(len(left), len(right))):
        x = left[i] if i < len(left) else None
        y = right[i] if i < len(right) else None
        if x != y:
            return {"line": i + 1, "lines": [x, y]}
    return None
