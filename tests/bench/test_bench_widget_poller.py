"""Benchmark: HTTP requests per poller tick for 20 watched steps of one running pipeline.

The kernel's poller (one ``runs/search`` for all watched runs of the experiment, one ranged GET
per log whose published size grew) beside the naive poller (one ``runs/get`` per step and one GET
per log per tick), both polling the same real pipeline in the same loop, each through a workspace
of its own whose ``Transport.request_count`` is read before and after its tick.

The bar: at most 3 requests per tick plus one per log with new bytes. A tick in which
steps end also carries their one last refresh (their three logs, one outputs/ and one images/
listing each):
those ticks are shown apart.
"""

from __future__ import annotations

import functools
import time
import uuid

import pytest

from steprun_widgets import Experiment, PipelineRun, Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import plan as plan_module
from steprun_widgets.local import submit as submit_module
from steprun_widgets.widgets.poller import get_poller
from tests.bench.report import publish, table
from tests.widgets.helpers import embedded_workspace, script_step, stop_leftovers, submit, watch_widget

STEPS = 20
#: Ticks while every step prints, before the test lets them end: a fixed count, not a time, so a
#: loaded machine (slow to make the 20 widgets) still gets its steady ticks.
RUNNING_TICKS = 9
#: Prints a line every 0.5 s until the test creates the release file (or for 2 minutes).
PRINTER = """
import time
from pathlib import Path
release = Path({release!r})
for i in range(240):
    print(f"step line {{i:02d}} " + "=" * (i % 30), flush=True)
    if release.exists():
        break
    time.sleep(0.5)
"""


class NaivePoller:
    """One runs/get per step and one GET per log per tick, until the step is final."""

    def __init__(self, step_runs) -> None:
        self.steps = step_runs
        self.readers = {s.id: {n: s.log_reader(n) for n in s.log_paths()} for s in step_runs}
        self.final: set[str] = set()
        self.text = {s.id: "" for s in step_runs}

    def tick(self) -> None:
        for step in self.steps:
            if step.id in self.final:
                continue
            terminal = layout.is_terminal(step.get_status())  # runs/get
            for name, reader in self.readers[step.id].items():
                chunk = reader.read_new(final=terminal)  # one ranged GET
                if name == "stdout":
                    self.text[step.id] += chunk.text
            if terminal:
                self.final.add(step.id)


@pytest.mark.bench
def test_bench_widget_poller(mlflow_server, tmp_path, monkeypatch):
    setup = embedded_workspace(mlflow_server)  # the embedded default: logs appended in place
    experiment = Experiment(setup, f"bench-widget-poller-{uuid.uuid4().hex[:8]}")
    release = tmp_path / "release"
    steps = [script_step(tmp_path, f"s{i:02d}", PRINTER.format(release=str(release))) for i in range(STEPS)]
    # The plan's max_parallel defaults to the number of cores (2 here): 20 concurrently running
    # steps need a plan that allows 20 (the steps mostly sleep).
    monkeypatch.setattr(submit_module, "PipelinePlan",
                        functools.partial(plan_module.PipelinePlan, max_parallel=STEPS))
    try:
        run = submit(experiment, steps)
        widget_ws, naive_ws = Workspace(mlflow_server.url), Workspace(mlflow_server.url)
        widgets = [watch_widget(s)[0]
                   for s in PipelineRun(Experiment(widget_ws, experiment.name), run.id).get_steps()]
        naive = NaivePoller(PipelineRun(Experiment(naive_ws, experiment.name), run.id).get_steps())
        assert len(widgets) == STEPS

        rows = []
        deadline = time.monotonic() + 120
        while not all(w.watch.final for w in widgets) or len(naive.final) < STEPS:
            assert time.monotonic() < deadline, [w.status for w in widgets]
            offsets = [(t, t.total_bytes) for w in widgets for t in w.watch.logs.values()]
            was_final = sum(w.watch.final for w in widgets)
            started = time.monotonic()
            before = widget_ws.transport.request_count
            get_poller().tick(widgets)
            requests = widget_ws.transport.request_count - before
            grew = sum(t.total_bytes != size for t, size in offsets)
            running = sum(w.status == layout.RUNNING for w in widgets)
            ended = sum(w.watch.final for w in widgets) - was_final

            before = naive_ws.transport.request_count
            naive.tick()
            naive_requests = naive_ws.transport.request_count - before
            rows.append((len(rows) + 1, running, ended, grew, requests, 3 + grew, naive_requests))
            if len(rows) == RUNNING_TICKS:
                release.touch()
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))  # one tick a second
    finally:
        stop_leftovers(experiment)

    for w in widgets:
        assert w.status == layout.FINISHED
        assert w.logs["stdout"]["tail"] == naive.text[w.run_id]  # both saw the same logs

    steady = [r for r in rows if r[2] == 0]
    ending = [r for r in rows if r[2] > 0]
    total_w = sum(r[4] for r in rows)
    total_n = sum(r[6] for r in rows)
    busy = [r for r in steady if r[1] >= STEPS // 2]
    steady_w, steady_n = sum(r[4] for r in steady), sum(r[6] for r in steady)
    lines = [
        f"Widget poller: {STEPS} watched steps of one pipeline, each printing a line every 0.5 s for "
        f"{RUNNING_TICKS} ticks; one tick a second (real MLflow {mlflow_server.url}, runner appending logs "
        "in place)",
        table(["tick", "running", "ended", "logs w/ new bytes", "poller requests", "bar 3+new",
               "naive requests", "naive/poller"],
              [[*r, f"{r[6] / r[4]:.1f}" if r[4] else "-"] for r in rows]),
        f"ticks with no step ending: poller {steady_w} requests, naive {steady_n} "
        f"({steady_n / max(1, steady_w):.1f}x); "
        f"bar met on {sum(r[4] <= r[5] for r in steady)}/{len(steady)}",
        f"ticks where steps ended (their last refresh: 3 log reads, 1 outputs/ and 1 images/ listing each): "
        f"poller {sum(r[4] for r in ending)}, naive {sum(r[6] for r in ending)}",
        f"all ticks: poller {total_w} requests, naive {total_n}: naive / poller = {total_n / total_w:.1f}x",
    ]
    publish("widget_poller", "\n".join(lines))
    for ws in (setup, widget_ws, naive_ws):
        ws.transport.close()

    assert busy, "the steps never ran together"
    for tick, _running, ended, grew, requests, _bar, _naive in rows:
        assert requests <= 3 + grew + 5 * ended, f"tick {tick}: {requests} requests"
    assert all(r[4] <= r[5] for r in steady)
    assert total_n > total_w
