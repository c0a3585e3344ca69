"""Benchmarks of PipelineRunWidget: requests per poll tick on a running 50-step pipeline, and the
first render of a 50-step graph in Chromium.

Requests: one PipelineRunWidget on a real running 50-step pipeline (a source, four layers of 12
steps, a sink; 12 steps may run at once; the first column's steps run about 3 s, the others 1 s),
ticked once a second by hand, beside a naive poller that asks for the pipeline and then each
step's status with one ``runs/get`` each. Each has a workspace of its own whose
``Transport.request_count`` is read around its tick. The pipeline view costs two requests a tick
(the pipeline's ``runs/get`` and one ``runs/search`` for its steps) whatever the number of steps;
a step view opened in it (a click on a running node) adds its own refresh: one ``runs/search``
plus one ranged GET per log with new bytes. Bar: at most 3 a tick.

Render: ``js/bench/pipeline_render.py`` (the built bundle on a page, a stand-in model, fresh
Chromium pages), run as a subprocess: first render to a painted frame. Bar: under 500 ms. Beside
it, the naive way to follow status changes (render again) against the widget's in-place update.

Scale: the first render of a 200-step fan-out/fan-in (source -> 198 parallel steps ->
sink, data on every edge), the widget's way (the wide layer collapsed into one group node, the
timeline one row per drawn node) beside the naive way (every node and timeline row painted, as
before grouping). Bar: the longest main-thread task of the first render under 200 ms.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from steprun_widgets import Experiment, PipelineRun, PipelineRunWidget, Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep
from steprun_widgets.local import plan as plan_module
from steprun_widgets.local import submit as submit_module
from steprun_widgets.widgets.poller import get_poller
from tests.bench.report import publish, table
from tests.widgets.helpers import embedded_workspace, stop_leftovers

REPO = Path(__file__).resolve().parents[2]
LAYERS, WIDTH = 4, 12  # 1 + 4 * 12 + 1 = 50 steps
STEP = """
    import pathlib, sys, time
    slow = sys.argv[1].endswith("_0")  # the first column runs longer: a step view to watch
    for i in range(8 if slow else 3):
        print(f"{sys.argv[1]} line {i}", flush=True)
        time.sleep(0.4 if slow else 0.3)
    if len(sys.argv) > 2:
        (pathlib.Path(sys.argv[2]) / "part.txt").write_text(sys.argv[1])
"""


def fifty_steps(workspace, folder: Path) -> Pipeline:
    """source -> 4 layers of 12 (each step feeds the one below it) -> sink (reads the last layer)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "step.py").write_text(textwrap.dedent(STEP).lstrip(), encoding="utf-8")

    def step(name, inputs=(), output=None):
        args = [name, output] if output is not None else [name]
        return PythonScriptStep("step.py", name=name, arguments=args, inputs=list(inputs),
                                outputs=[output] if output is not None else [], source_directory=folder,
                                allow_reuse=False)

    root = PipelineData("root")
    steps = [step("source", output=root)]
    above = [root] * WIDTH
    for layer in range(LAYERS):
        row = [PipelineData(f"d{layer}_{i}") for i in range(WIDTH)]
        steps += [step(f"s{layer}_{i}", inputs=[above[i]], output=row[i]) for i in range(WIDTH)]
        above = row
    steps.append(step("sink", inputs=above))
    return Pipeline(workspace, steps)


class NaivePoller:
    """The pipeline's runs/get, then one runs/get per step until that step is final."""

    def __init__(self, pipeline_run: PipelineRun) -> None:
        self.pipeline_run = pipeline_run
        self.steps = pipeline_run.get_steps()
        self.final: set[str] = set()

    def tick(self) -> None:
        self.pipeline_run.get_status()
        for step in self.steps:
            if step.id not in self.final and layout.is_terminal(step.get_status()):
                self.final.add(step.id)


@pytest.mark.bench
def test_bench_pipeline_widget_requests(mlflow_server, tmp_path, monkeypatch):
    setup = embedded_workspace(mlflow_server)
    experiment = Experiment(setup, f"bench-pipeline-widget-{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(submit_module, "PipelinePlan",
                        functools.partial(plan_module.PipelinePlan, max_parallel=WIDTH))
    rows = []
    widget_ws, naive_ws = Workspace(mlflow_server.url), Workspace(mlflow_server.url)
    try:
        run = experiment.submit(fifty_steps(setup, tmp_path / "src"))
        widget = PipelineRunWidget(PipelineRun(Experiment(widget_ws, experiment.name), run.id), poll=False)
        naive = NaivePoller(PipelineRun(Experiment(naive_ws, experiment.name), run.id))
        assert len(widget.graph["nodes"]) == len(widget.steps) == len(naive.steps) == 50
        child = None  # the step view opened on the first running node, as a click would
        deadline = time.monotonic() + 180
        while not widget.watch.final or len(naive.final) < 50:
            assert time.monotonic() < deadline, widget.status
            started = time.monotonic()
            before = widget_ws.transport.request_count
            get_poller().tick([widget])
            view = widget_ws.transport.request_count - before
            if child is None:  # open the first running slow step, as a click on its node would
                running = [s["node_id"] for s in widget.steps
                           if s["status"] == layout.RUNNING and s["name"].endswith("_0")]
                if running:
                    widget.selected = running[0]  # what the browser sets on a click
                    child = widget.selected_step
            step_requests, grew = 0, 0
            if child is not None and not child.watch.final:
                sizes = [(t, t.total_bytes) for t in child.watch.logs.values()]
                before = widget_ws.transport.request_count
                get_poller().tick([child])
                step_requests = widget_ws.transport.request_count - before
                grew = sum(t.total_bytes != size for t, size in sizes)
            before = naive_ws.transport.request_count
            naive.tick()
            naive_requests = naive_ws.transport.request_count - before
            counts = {s: sum(x["status"] == s for x in widget.steps)
                      for s in (layout.RUNNING, layout.FINISHED)}
            rows.append([len(rows) + 1, counts[layout.RUNNING], counts[layout.FINISHED], view,
                         f"{step_requests} ({grew} log{'s' if grew != 1 else ''})" if child else "-",
                         naive_requests, f"{naive_requests / view:.1f}"])
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    finally:
        stop_leftovers(experiment)
        for ws in (setup, widget_ws, naive_ws):
            ws.transport.close()

    views = [r[3] for r in rows]
    busy = [r for r in rows if r[1] > 0]
    lines = [
        f"PipelineRunWidget on a running 50-step pipeline (source, 4 layers of {WIDTH}, sink; up to "
        f"{WIDTH} at once), one tick a second; real MLflow {mlflow_server.url}",
        table(["tick", "running", "finished", "pipeline view requests", "+ open step view",
               "naive requests", "naive/view"], rows),
        f"pipeline view: {min(views)}-{max(views)} requests a tick (bar <= 3), {sum(views)} in all; "
        f"naive: {sum(r[5] for r in rows)} in all "
        f"({sum(r[5] for r in rows) / sum(views):.1f}x); ticks with steps running: {len(busy)}",
        "the open step view's requests: 1 runs/search + 1 ranged GET per log with new bytes "
        "(+3 log reads and 1 output listing on its last refresh)",
    ]
    publish("pipeline_widget_requests", "\n".join(lines))
    assert busy, "no tick saw a running step"
    assert max(views) <= 3
    assert widget.status == layout.FINISHED and all(s["status"] == layout.FINISHED for s in widget.steps)


RENDER = re.compile(r"median: render (?P<render>[\d.]+) ms, to frame (?P<frame>[\d.]+) ms, steps update "
                    r"(?P<update>[\d.]+) ms \(layout alone, warm: (?P<layout>[\d.]+) ms; max to frame "
                    r"(?P<max>[\d.]+) ms\)")


@pytest.mark.bench
@pytest.mark.quiet  # a time bar: not beside the other lane's load
def test_bench_pipeline_widget_first_render():
    rows, results = [], {}
    for steps, runs in ((10, 3), (50, 5)):
        done = subprocess.run([sys.executable, str(REPO / "js" / "bench" / "pipeline_render.py"),
                               "--steps", str(steps), "--runs", str(runs)],
                              capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr
        found = RENDER.search(done.stdout)
        assert found, done.stdout
        r = {k: float(v) for k, v in found.groupdict().items()}
        results[steps] = r
        ratio = r["frame"] / max(r["update"], 0.1)
        rows.append([steps, runs, f"{r['render']:.1f}", f"{r['frame']:.1f}", f"{r['max']:.1f}",
                     f"{r['layout']:.1f}", f"{r['update']:.1f}", f"{ratio:.0f}x"])
    lines = [
        "PipelineRunWidget first render in headless Chromium (built bundle, stand-in model, fresh page "
        "per run; medians, ms): js/bench/pipeline_render.py",
        table(["steps", "pages", "render()", "to painted frame", "max to frame", "layout (warm)",
               "steps update", "naive re-render / update"], rows),
        "bar: first render of 50 steps to a painted frame < 500 ms; a status change updates the nodes "
        "in place (no relayout): the naive way, rendering again, costs the 'to painted frame' time",
    ]
    publish("pipeline_widget_render", "\n".join(lines))
    assert results[50]["frame"] < 500


LONG = re.compile(r"long tasks: longest (?P<longest>[\d.]+) ms median, (?P<longest_max>[\d.]+) ms max, "
                  r"(?P<count>[\d.]+) a render; painted: (?P<nodes>\d+) nodes \((?P<groups>\d+) groups\), "
                  r"(?P<rows>\d+) timeline rows, timeline (?P<height>\d+) px tall")


def _render(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, str(REPO / "js" / "bench" / "pipeline_render.py"), *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    found, long = RENDER.search(done.stdout), LONG.search(done.stdout)
    assert found and long, done.stdout
    return {k: float(v) for k, v in {**found.groupdict(), **long.groupdict()}.items()}


@pytest.mark.bench
@pytest.mark.quiet  # a time bar: not beside the other lane's load
def test_bench_pipeline_widget_fan_out_render():
    ours = _render("--steps", "200", "--shape", "fan", "--runs", "5")
    naive = _render("--steps", "200", "--shape", "fan", "--no-group", "--runs", "3")
    rows = []
    for way, pages, r in (("grouped (ours)", 5, ours), ("every node (naive)", 3, naive)):
        rows.append([way, pages, f"{r['nodes']:.0f} ({r['groups']:.0f} group)", f"{r['rows']:.0f}",
                     f"{r['height']:.0f}", f"{r['longest']:.0f}", f"{r['longest_max']:.0f}",
                     f"{r['count']:g}", f"{r['render']:.1f}", f"{r['frame']:.1f}"])
    lines = [
        "PipelineRunWidget first render of a 200-step fan-out/fan-in (source -> 198 parallel steps -> "
        "sink) in headless Chromium (built bundle, stand-in model, fresh page per run; medians, ms): "
        "js/bench/pipeline_render.py --shape fan",
        table(["way", "pages", "nodes painted", "timeline rows", "timeline px", "longest task",
               "longest (max)", "long tasks", "render()", "to painted frame"], rows),
        f"naive/ours: longest task {naive['longest'] / max(ours['longest'], 1):.1f}x, to painted frame "
        f"{naive['frame'] / max(ours['frame'], 0.1):.1f}x; long tasks are main-thread tasks of 50 ms or more "
        "(Long Tasks API) between render() and the painted frame; bar: longest task < 200 ms",
    ]
    publish("pipeline_widget_fan_render", "\n".join(lines))
    assert ours["nodes"] == 3 and ours["groups"] == 1 and naive["nodes"] == 200
    assert ours["longest"] < 200
