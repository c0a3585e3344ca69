"""Benchmarks of ``compare()``: reading two 50-step pipeline runs side by side, against the naive
way; and the first render of a 200-run comparison in Chromium, against 200 separate charts.

Two finished pipeline runs of 50 steps are laid out on the test server as the runner writes them
(each step: a stdout log of about 2 kB, a one-file output, a ``loss`` logged 20 times, the step
params). The comparison (``compare(a, b)``, one refresh: they are final) is measured beside the
naive way a user compares them today: two ``PipelineRunWidget``s and every step's view
(``StepRunWidget``) of both. Each way has a workspace of its own; requests come from
``Transport.request_count``, bytes are the response bodies' ``Content-Length`` (the server's JSON
and artifact answers all carry it).
"""

from __future__ import annotations

import functools
import http.server
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from steprun_widgets import PipelineRun, PipelineRunWidget, StepRunWidget, Workspace, compare
from steprun_widgets.core import layout
from tests.bench.report import publish, table
from tests.runlayout import RunLayout

REPO = Path(__file__).resolve().parents[2]
STEPS = 50
POINTS = 20


def _lay_out(runs: RunLayout, lr: str):
    names = [f"s{i:02d}" for i in range(STEPS)]
    pipeline = runs.pipeline(steps=names, edges=list(zip(names, names[1:], strict=False)))
    now = int(time.time() * 1000)

    def one(name: str) -> None:
        step = runs.step(pipeline, name, status=layout.RUNNING, extra_tags={layout.TAG_OUTPUT_NAMES: "out"})
        params = layout.encode_step_params("step.py", [name, "--lr", lr], [], ["out"], True)
        runs.rest.log_params(step.run_id, params)
        runs.rest.transport.post_json("/api/2.0/mlflow/runs/log-batch", {
            "run_id": step.run_id,
            "metrics": [{"key": "loss", "value": 1 / (i + 1 + float(lr)), "timestamp": now + i, "step": i}
                        for i in range(POINTS)]})
        runs.log(step, "stdout", "".join(f"{name} epoch {i} lr {lr}\n" for i in range(80)))
        runs.output(step, "out", {"part.txt": f"{name} {lr}\n"})
        runs.set_status(step, layout.FINISHED)

    with ThreadPoolExecutor(8) as pool:  # only the setup: the measured parts are sequential
        list(pool.map(one, names))
    runs.set_status(pipeline, layout.FINISHED)
    return pipeline


class Counted:
    """A workspace on the server whose requests and response bytes are counted."""

    def __init__(self, url: str) -> None:
        self.workspace = Workspace(url)
        self.bytes = 0
        self.workspace.transport.session.hooks["response"].append(self._count)

    def _count(self, response, *args, **kwargs):
        self.bytes += int(response.headers.get("Content-Length") or 0)

    @property
    def requests(self) -> int:
        return self.workspace.transport.request_count


def test_compare_two_50_step_runs_vs_two_widgets_and_every_step_view(mlflow_server):
    runs = RunLayout(Workspace(mlflow_server.url), f"bench-compare-{uuid.uuid4().hex[:8]}")
    a, b = _lay_out(runs, "0.1"), _lay_out(runs, "0.01")
    from steprun_widgets import Experiment

    def open_runs(counted: Counted) -> list[PipelineRun]:
        experiment = Experiment(counted.workspace, runs.experiment_name)
        return [PipelineRun(experiment, r.run_id) for r in (a, b)]

    ours = Counted(mlflow_server.url)
    started = time.perf_counter()
    widget = compare(*open_runs(ours), poll=False)
    ours_s = time.perf_counter() - started
    assert len(widget.steps) == STEPS and len(widget.charts) == STEPS
    assert sum(p["differs"] for p in widget.params) == STEPS  # each step's arguments
    assert len(widget.outputs) == STEPS and all(o["differs"] for o in widget.outputs)

    naive = Counted(mlflow_server.url)
    started = time.perf_counter()
    views = []
    for run in open_runs(naive):
        views.append(PipelineRunWidget(run, poll=False))
        views += [StepRunWidget(step, poll=False) for step in run.steps_in_graph_order()]
    naive_s = time.perf_counter() - started
    assert len(views) == 2 + 2 * STEPS

    rows = [("compare(a, b)", ours.requests, ours.bytes, f"{ours_s:.2f}"),
            ("2 PipelineRunWidgets + 100 step views", naive.requests, naive.bytes, f"{naive_s:.2f}"),
            ("ratio naive / compare", f"{naive.requests / ours.requests:.1f}x",
             f"{naive.bytes / max(ours.bytes, 1):.1f}x", "")]
    publish("compare_two_pipelines", "Comparing two finished 50-step pipeline runs (one refresh)\n"
            + table(["way", "requests", "bytes read", "seconds"], rows))
    assert ours.requests < naive.requests
    for w in views:
        w.close()
    widget.close()


def _render(url: str, runs: int = 5) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS

    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(url)
                page.wait_for_function("window.benchResult !== undefined", timeout=60_000)
                results.append(page.evaluate("window.benchResult"))
                page.close()
        finally:
            browser.close()
    assert all(r["longTasksSupported"] for r in results), "this Chromium has no Long Tasks API"
    return {k: statistics.median(r[k] for r in results) for k in results[0] if k != "longTasksSupported"}


def test_200_run_comparison_first_render_vs_200_charts():
    """A 200-run sweep comparison (the built bundle, a stand-in model, fresh Chromium pages):
    first render to a painted frame and the longest main-thread task, beside the naive way (200
    separate charts, one per run). Bar: longest task under 200 ms."""
    handler = functools.partial(_Quiet, directory=str(REPO))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/js/bench/compare_render.html?n=200"
    try:
        ours, naive = _render(base), _render(base + "&mode=naive")
    finally:
        server.shutdown()
        server.server_close()
    rows = [(name, *(f"{r[k]:.0f}" for k in ("renderMs", "toFrameMs", "longestTaskMs", "domNodes")))
            for name, r in (("RunComparison (sweep table + parallel coordinates)", ours),
                            ("naive: 200 separate charts", naive))]
    rows.append(("ratio naive / comparison", "", f"{naive['toFrameMs'] / max(ours['toFrameMs'], 1):.1f}x",
                 f"{naive['longestTaskMs'] / ours['longestTaskMs']:.1f}x" if ours["longestTaskMs"]
                 else "none >= 50 ms in ours",
                 f"{naive['domNodes'] / max(ours['domNodes'], 1):.1f}x"))
    publish("compare_200_runs_render",
            "First render of a 200-run comparison in Chromium (median of 5 fresh pages)\n"
            + table(["way", "render ms", "to frame ms", "longest task ms", "DOM nodes"], rows))
    assert ours["longestTaskMs"] < 200
    assert ours["domNodes"] < naive["domNodes"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass
