"""Benchmark: logging metrics from a step, ``Run.get_context().log`` vs ``mlflow.log_metric``.

One real step of a real pipeline (embedded-default layout, the session's MLflow server) makes
100,000 ``run.log`` calls, then, in the same process against the same server, ``mlflow.log_metric``
for a sample of 500 values (the naive way: one request per value; a full 100,000 would take
minutes). Wall time per value is compared as a ratio. The requests that shipped the 100,000 values
are counted by the runner (its job log line) and compared with values / 1,000 + ticks.

Bars: per-value wall time >= 50 x less than mlflow.log_metric (asserted as a ratio);
shipping requests <= values / 1,000 + ticks (asserted as a count).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from steprun_widgets import Experiment
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PythonScriptStep
from tests.bench.report import publish, table
from tests.local.helpers import write_script
from tests.metrics_rest import history, latest
from tests.support import embedded_workspace, wait_terminal

VALUES = 100_000
NAIVE_SAMPLE = 500
RATIO_BAR = 50

STEP = """
import sys, time
from steprun_widgets import Run

values, sample = int(sys.argv[1]), int(sys.argv[2])
run = Run.get_context()
started = time.perf_counter()
for i in range(values):
    run.log("loss", 1.0 / (i + 1))
ours = time.perf_counter() - started

import mlflow  # the naive way, same process, same server, the step's own run
mlflow.log_metric("naive_loss", 1.0, step=0)  # first call: starts the run, opens the connection
started = time.perf_counter()
for i in range(1, sample + 1):
    mlflow.log_metric("naive_loss", 1.0 / (i + 1), step=i)
naive = time.perf_counter() - started
print(f"TIMES {ours:.6f} {naive:.6f}")
"""


def test_bench_metrics_write(mlflow_server, tmp_path):
    ws = embedded_workspace(mlflow_server)
    src = write_script(tmp_path / "src", "logs.py", STEP)
    experiment = Experiment(ws, f"bench-metrics-write-{uuid.uuid4().hex[:8]}")
    run = experiment.submit(Pipeline(ws, [PythonScriptStep(
        "logs.py", name="logs", arguments=[VALUES, NAIVE_SAMPLE], source_directory=src)]))
    assert wait_terminal(run, 900) == "Finished"
    step = run.find_step_run("logs")[0]
    record = ws.rest.get_run(step.id)
    stdout = ws.rest.read_range(record, layout.LOG_FILES["stdout"], 0)[0].decode()
    job = ws.rest.read_range(record, layout.LOG_FILES["job"], 0)[0].decode()
    ours, naive = map(float, re.search(r"TIMES (\S+) (\S+)", stdout).groups())
    shipped = re.search(r"(\d+) metric values, \d+ tags, \d+ files shipped in (\d+) requests over "
                        r"(\d+) ticks", job)
    assert shipped, job
    values, requests, ticks = map(int, shipped.groups())
    stamps = dict((kind, datetime.fromisoformat(at.replace("Z", "+00:00"))) for at, kind in
                  re.findall(r"^\[(\S+)\] (Script ended|Logged through)", job, re.M))
    lag = (stamps["Logged through"] - stamps["Script ended"]).total_seconds()
    assert values == VALUES
    assert latest(ws, step.id)["loss"] == (VALUES - 1, 1.0 / VALUES)
    assert len(history(ws, step.id, "naive_loss")) == NAIVE_SAMPLE + 1

    per_ours, per_naive = ours / VALUES, naive / NAIVE_SAMPLE
    ratio = per_naive / per_ours
    bound = VALUES // 1000 + ticks
    publish("metrics_write", table(
        ["way", "values", "wall time in the step (s)", "per value (us)", "log-batch requests"],
        [["Run.get_context().log (channel; runner ships)", VALUES, f"{ours:.2f}",
          f"{per_ours * 1e6:.1f}", requests],
         ["mlflow.log_metric per value (naive)", NAIVE_SAMPLE, f"{naive:.2f}",
          f"{per_naive * 1e6:.1f}", NAIVE_SAMPLE],
         [f"ratio naive / ours per value (bar >= {RATIO_BAR})", "", "", f"{ratio:.0f} x", ""],
         [f"requests bar: values/1000 + ticks ({ticks} ticks)", "", "", "", f"<= {bound}"],
         ["shipping left after the script ended (s, job log)", "", f"{lag:.0f}", "", ""]]))
    assert ratio >= RATIO_BAR
    assert requests <= bound
