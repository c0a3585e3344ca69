"""Benchmark: the static snapshot of a 50-step pipeline, its size and the time to build it in the
kernel, beside today's (the table-only snapshot before the graph and charts).

A real 50-step pipeline (the pipeline-widget bench's: a source, four layers of 12, a sink) runs to
the end on the test server; a PipelineRunWidget of it builds its snapshot (``to_html``: the
synced state to HTML, what every companion update and every save costs). Rows: the pipeline
alone, and with a step view open (the snapshot then holds that step's log tails, as the live
pane does). Beside it the snapshot module as it was before (``BEFORE``, read from git), given the
same state. Time: the median of 20 builds. Bar: the snapshot of a 50-step pipeline is
at most 150 kB.
"""

from __future__ import annotations

import functools
import statistics
import subprocess
import time
import types
import uuid

import pytest

from steprun_widgets import Experiment, PipelineRunWidget
from steprun_widgets.core import layout
from steprun_widgets.local import plan as plan_module
from steprun_widgets.local import submit as submit_module
from steprun_widgets.widgets.step_view import StepPane
from tests.bench.report import publish, table
from tests.bench.test_bench_pipeline_widget import REPO, WIDTH, fifty_steps
from tests.widgets.helpers import embedded_workspace, stop_leftovers

BEFORE = "a763b0c"  # the last commit with the table-only snapshot
MODULE = "steprun_widgets/widgets/snapshot.py"
SIZE_BAR = 150_000
REPEAT = 20


def _before() -> types.ModuleType | None:
    """The snapshot module of ``BEFORE`` (None when the clone does not have that commit)."""
    shown = subprocess.run(["git", "show", f"{BEFORE}:{MODULE}"], cwd=REPO, capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    module = types.ModuleType("snapshot_before")
    exec(compile(shown.stdout, f"{BEFORE}:{MODULE}", "exec"), module.__dict__)
    return module


def _median_ms(build) -> tuple[float, str]:
    times, html = [], ""
    for _ in range(REPEAT):
        started = time.perf_counter()
        html = build()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), html


@pytest.mark.bench
def test_bench_snapshot_of_fifty_steps(mlflow_server, tmp_path, monkeypatch):
    ws = embedded_workspace(mlflow_server)
    experiment = Experiment(ws, f"bench-snapshot-{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(submit_module, "PipelinePlan",
                        functools.partial(plan_module.PipelinePlan, max_parallel=WIDTH))
    before = _before()
    try:
        run = experiment.submit(fifty_steps(ws, tmp_path / "src"))
        assert run.wait_for_completion(show_output=False, timeout_seconds=240) == layout.FINISHED
        widget = PipelineRunWidget(run, poll=False)
        assert len(widget.steps) == 50 and len(widget.graph["edges"]) == 60
        cases = [("50-step pipeline", widget)]
        opened = PipelineRunWidget(run, poll=False)
        opened.selected = next(s["node_id"] for s in opened.steps if s["name"] == "s0_0")
        assert isinstance(opened.selected_step, StepPane)
        assert "Step view" in opened.to_html()
        cases.append(("50 steps + a step view open", opened))

        rows = []
        for label, w in cases:
            ours_ms, ours = _median_ms(w.to_html)
            assert ours.count("data-node-id=") == 50 and "<script" not in ours
            assert len(ours.encode()) <= SIZE_BAR, (label, len(ours.encode()))
            if before is not None:
                state = w.snapshot_state()
                old_ms, old = _median_ms(lambda state=state: before.pipeline_html(state))
                old_kb, old_ms_text = f"{len(old.encode()) / 1000:.1f}", f"{old_ms:.2f}"
                size_ratio = f"{len(ours.encode()) / len(old.encode()):.1f}x"
                time_ratio = f"{ours_ms / old_ms:.1f}x"
            else:
                old_kb = old_ms_text = size_ratio = time_ratio = "n/a"
            rows.append([label, f"{len(ours.encode()) / 1000:.1f}", old_kb, size_ratio,
                         f"{ours_ms:.2f}", old_ms_text, time_ratio])
    finally:
        stop_leftovers(experiment)
        ws.transport.close()

    text = "\n".join([
        "Snapshot (to_html) of a finished real 50-step pipeline; today = the table-only snapshot "
        f"({BEFORE}) given the same state; time = median of {REPEAT} builds in this process",
        table(["case", "size kB", "today kB", "size ratio", "build ms", "today ms", "time ratio"], rows),
        f"Bar: size <= {SIZE_BAR / 1000:.0f} kB (asserted). Today has no graph, no timeline, no "
        "open step view and plain logs; the size ratio is what the graph, bars and colours cost.",
    ])
    publish("snapshot", text)
