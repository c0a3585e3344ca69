"""Benchmark: orchestration overhead of the local runner on a 20-step chain of trivial scripts.

Each step reads its predecessor's output, writes its own, and prints the wall time it spent itself
(``SELF t0 t1``, epoch seconds). Overhead per step = the spacing between consecutive steps' end
times as the server recorded them (for the first step: from submit) minus the script's own time.
The naive way in the same run: the 20 scripts run one after another with ``subprocess.run`` (its
per-step wall time minus the script's own time is the interpreter's start-up and exit). Then the
identical pipeline is submitted again: every step is reused, and the time from submit to the
pipeline's Finished is measured.

Bars: median overhead per step <= 0.5 s; identical resubmission <= 3 s. Printed, not
asserted (wall-clock times on a shared machine).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from steprun_widgets import Experiment, Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep
from tests.bench.report import publish, table

STEPS = 20
OVERHEAD_BAR = 0.5
RESUBMIT_BAR = 3.0

SCRIPT = """
import sys, time
from pathlib import Path
t0 = time.time()
count = int(Path(sys.argv[1], "count.txt").read_text()) if len(sys.argv) > 2 else 0
Path(sys.argv[-1], "count.txt").write_text(str(count + 1))
print(f"SELF {t0:.6f} {time.time():.6f}")
"""


def chain(workspace: Workspace, src: Path) -> Pipeline:
    data = [PipelineData(f"d{i:02d}") for i in range(STEPS)]
    steps = []
    for i in range(STEPS):
        inputs = [data[i - 1]] if i else []
        steps.append(PythonScriptStep("step.py", name=f"s{i:02d}", arguments=[*inputs, data[i]],
                                      inputs=inputs, outputs=[data[i]], source_directory=src))
    return Pipeline(workspace, steps)


def self_time(stdout: str) -> float:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("SELF "))
    t0, t1 = map(float, line.split()[1:3])
    return t1 - t0


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def wait_finished(run, poll: float = 0.05, timeout: float = 300) -> float:
    """Poll until the pipeline is final; returns the client's time.monotonic() when it saw it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = run.get_status()
        if layout.is_terminal(status):
            assert status == layout.FINISHED, f"pipeline {run.id} ended {status}"
            return time.monotonic()
        time.sleep(poll)
    raise AssertionError(f"pipeline {run.id} did not finish in {timeout} s")


def measure(workspace: Workspace, src: Path) -> dict:
    experiment = Experiment(workspace, f"bench-runner-{uuid.uuid4().hex[:8]}")
    experiment.ensure()
    submitted_ms = time.time() * 1000
    run = experiment.submit(chain(workspace, src))
    wait_finished(run)
    records = {r.name: r for r in run.step_records()}
    pipeline_record = run._record(refresh=True)
    steps = run.steps_in_graph_order()  # a chain: each step ends after the one before
    spans, overheads, inside = [], [], []
    previous_end = submitted_ms
    for step in steps:
        record = records[step.name]
        own = self_time(step.get_stdout_log())
        span = (record.end_time - previous_end) / 1000
        spans.append(span)
        overheads.append(span - own)
        inside.append((record.end_time - record.started_ms) / 1000 - own)
        previous_end = record.end_time
    first_total = (pipeline_record.end_time - submitted_ms) / 1000

    t0_ms = time.time() * 1000
    t0 = time.monotonic()
    again = experiment.submit(chain(workspace, src))
    submit_returned = time.monotonic() - t0
    seen = wait_finished(again) - t0
    again_record = again._record(refresh=True)
    resubmit = (again_record.end_time - t0_ms) / 1000
    assert all(s._is_reused for s in again.get_steps())
    assert [s.id for s in again.steps_in_graph_order()] == [s.id for s in steps]
    return {"spans": spans, "overheads": overheads, "inside": inside, "first_total": first_total,
            "resubmit": resubmit, "resubmit_seen": seen, "submit_returned": submit_returned}


def baseline(src: Path, work: Path) -> dict:
    """The naive way: the same 20 scripts, one ``subprocess.run`` after another."""
    walls, overheads = [], []
    previous = None
    for i in range(STEPS):
        out = work / f"d{i:02d}"
        out.mkdir(parents=True)
        args = [str(previous), str(out)] if previous else [str(out)]
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "step.py", *args], cwd=src, capture_output=True, text=True,
                              check=True)
        wall = time.perf_counter() - t0
        walls.append(wall)
        overheads.append(wall - self_time(done.stdout))
        previous = out
    assert (work / f"d{STEPS - 1:02d}" / "count.txt").read_text() == str(STEPS)
    return {"walls": walls, "overheads": overheads}


@pytest.mark.bench
def test_bench_runner(mlflow_server, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "step.py").write_text(SCRIPT.lstrip())
    naive = baseline(src, tmp_path / "naive")

    results = {}
    for sink in ("append", "upload"):
        ws = Workspace(mlflow_server.url)
        if sink == "append":  # the embedded default: logs appended in the server's artifact folder
            mlflow_server.artifacts.mkdir(exist_ok=True)
            ws.local_root = mlflow_server.folder
        results[sink] = measure(ws, src)
        ws.transport.close()

    med_naive = statistics.median(naive["walls"])
    rows = [["naive: subprocess.run one after another", f"{med_naive:.3f}",
             f"{statistics.median(naive['overheads']):.3f}", f"{p90(naive['overheads']):.3f}", "-",
             f"{sum(naive['walls']):.2f}", "1.0"]]
    labels = {"append": "runner, embedded default (append logs)",
              "upload": "runner, remote-style (upload logs)"}
    for sink, r in results.items():
        rows.append([labels[sink], f"{statistics.median(r['spans']):.3f}",
                     f"{statistics.median(r['overheads']):.3f}", f"{p90(r['overheads']):.3f}",
                     f"{statistics.median(r['inside']):.3f}", f"{r['first_total']:.2f}",
                     f"{statistics.median(r['spans']) / med_naive:.1f}"])
    embedded = results["append"]
    med_overhead = statistics.median(embedded["overheads"])
    lines = [
        f"Runner: a {STEPS}-step chain of trivial scripts (each reads its predecessor's output), real MLflow "
        f"{mlflow_server.url}, {sys.platform}, {__import__('os').cpu_count()} cores",
        table(["way", "median s/step", "median overhead", "p90 overhead", "median in-step overhead",
               "total s", "x naive"], rows),
        "s/step: spacing of consecutive steps' end times on the server (first step: from submit);",
        "overhead = s/step - the script's own time; in-step = (end - steprun.startedat) - own time.",
        "",
        table(["identical resubmission (all reused)", "submit returned s", "submit -> Finished (server) s",
               "seen Finished by a 50 ms poll s"],
              [[labels[s], f"{r['submit_returned']:.2f}", f"{r['resubmit']:.2f}", f"{r['resubmit_seen']:.2f}"]
               for s, r in results.items()]),
        "",
        f"bar: median overhead per step <= {OVERHEAD_BAR} s (embedded default) -> "
        f"{'met' if med_overhead <= OVERHEAD_BAR else 'NOT met'} ({med_overhead:.3f} s)",
        f"bar: identical resubmission <= {RESUBMIT_BAR} s (embedded default) -> "
        f"{'met' if embedded['resubmit'] <= RESUBMIT_BAR else 'NOT met'} ({embedded['resubmit']:.2f} s)",
    ]
    publish("runner", "\n".join(lines))
