"""Benchmark: shipping a step's 50 MiB stdout to the tracking server while the step runs.

Bytes shipped for the log, side by side in the same run:

* AppendSink (the embedded default): appends into the artifact file of the local artifact store.
* UploadSink (a remote server): spools and re-uploads the whole file, spaced by doubling.
* the naive way: re-upload everything every second (a subclass of UploadSink, real uploads).

Each sink runs in this process around a real step process (``StepProcess``, the runner's pumps,
ticks every ``POLL`` as ``_supervise`` does), so its byte counter can be read; PUT bytes are also
counted from the HTTP requests themselves. Two paces: flat out, and 1 MiB every 0.2 s (a long
training log). The whole runner is then measured too (submit a one-step pipeline).

Wall time: the step's process with shipping vs the same script with stdout to /dev/null (same
environment, PYTHONUNBUFFERED=1 as the runner sets).

Bars: bytes shipped <= 1.1 x 50 MiB for the embedded default (asserted: a byte count);
wall time with shipping <= 1.2 x without (printed, not asserted).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from steprun_widgets import Experiment, Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PythonScriptStep
from steprun_widgets.local.execute import POLL, StepProcess
from steprun_widgets.local.logship import AppendSink, UploadSink, local_artifact_file
from tests.bench.report import publish, table
from tests.local.helpers import work_folder

MIB = 1024 * 1024
TOTAL = 50 * MIB
LINE = 100  # bytes per line, newline included
BYTES_BAR = 1.1
WALL_BAR = 1.2
REPEAT = 3

SCRIPT = """
import sys, time
t0 = time.time()
lines, pace = int(sys.argv[1]), float(sys.argv[2])
filler = "abcdefghijklmnopqrstuvwxyz0123456789" * 3
per_mib = 1024 * 1024 // 100
for i in range(lines):
    print(f"{i:09d} loss={i % 977 / 1000:.3f} " + filler[:78])
    if pace and i % per_mib == per_mib - 1:
        time.sleep(pace)
print(f"SELF {t0:.6f} {time.time():.6f}", file=sys.stderr)
"""
PACES = {"flat out": 0.0, "1 MiB / 0.2 s": 0.2}


class EverySecondSink(UploadSink):
    """The naive way: upload the whole log again every second while it grows."""

    def tick(self) -> None:
        size = self.size
        if size != self.uploaded_size and time.monotonic() - self.last_upload >= 1.0:
            self._upload(size)


class PutCounter:
    """Counts the body bytes of PUT requests sent on one workspace's session."""

    def __init__(self, workspace: Workspace) -> None:
        self.bytes = 0
        workspace.transport.session.hooks["response"].append(self)

    def __call__(self, response, *args, **kwargs):
        if response.request.method == "PUT":
            self.bytes += int(response.request.headers.get("Content-Length", 0))
        return response


def step_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def self_time(text: str) -> float:
    t0, t1 = map(float, re.search(r"SELF (\S+) (\S+)", text).groups())
    return t1 - t0


def plain_run(src: Path, pace: float, to_file: Path | None) -> float:
    """Wall time of the script with stdout to /dev/null or straight to a file (no runner, no pump)."""
    with open(to_file or os.devnull, "wb") as out:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "script.py", str(TOTAL // LINE), str(pace)], cwd=src,
                       env=step_env(), stdout=out, stderr=subprocess.DEVNULL, check=True)
        return time.perf_counter() - t0


def sink_run(kind: str, ws: Workspace, experiment_id: str, src: Path, local_artifacts: Path,
             spool: Path, pace: float) -> dict:
    """One step process whose stdout goes to a sink of ``kind``, ticked like the runner does."""
    run = ws.rest.create_run(experiment_id, name=f"{kind}-{pace}", tags={})
    path = layout.LOG_FILES["stdout"]
    if kind == "append":
        target = local_artifact_file(str(local_artifacts), run, path)
        assert target is not None
        sink = AppendSink(target)
    else:
        cls = UploadSink if kind == "upload" else EverySecondSink
        sink = cls(ws.rest, run, path, spool / f"{uuid.uuid4().hex}.txt")
    err = bytearray()

    class Collect:  # the script's stderr carries its own timing
        def write(self, data: bytes) -> None:
            err.extend(data)

    counter = PutCounter(ws)
    t0 = time.perf_counter()
    process = StepProcess([sys.executable, "script.py", str(TOTAL // LINE), str(pace)], str(src), step_env(),
                          sink, Collect())
    while process.poll() is None:
        process.wait(POLL)
        sink.tick()
    assert process.finish() == 0
    wall = time.perf_counter() - t0
    sink.close()
    total = time.perf_counter() - t0
    got = ws.rest.read_range(run, path, TOTAL - 10)
    assert got is not None and got[1] == TOTAL, f"{kind}: the server has {got and got[1]} bytes"
    if kind != "append":
        assert counter.bytes == sink.shipped, (counter.bytes, sink.shipped)
    ws.transport.session.hooks["response"].remove(counter)
    return {"shipped": sink.shipped, "wall": wall, "total": total, "own": self_time(err.decode())}


def runner_run(sink: str, server, src: Path) -> dict:
    """The whole runner: a one-step pipeline; step wall time from the runner's job log."""
    ws = Workspace(server.url)
    if sink == "append":
        ws.local_root = server.folder
    experiment = Experiment(ws, f"bench-logship-{sink}-{uuid.uuid4().hex[:6]}")
    run = experiment.submit(Pipeline(ws, [PythonScriptStep(
        "script.py", name="print50", arguments=[TOTAL // LINE, 0], source_directory=src)]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=600) == layout.FINISHED
    step = run.get_steps()[0]
    record = step._record(refresh=True)
    process_s = float(re.search(r"exit code 0 after ([\d.]+) s", step.get_job_log()).group(1))
    size = ws.rest.read_range(record, layout.LOG_FILES["stdout"], TOTAL - 10)[1]
    on_disk = None
    if sink == "append":
        target = local_artifact_file(str(server.artifacts), record, layout.LOG_FILES["stdout"])
        on_disk = target.stat().st_size
    ws.transport.close()
    if sink != "append":  # the runner's spooled 50 MiB copy in the shared temp folder
        shutil.rmtree(work_folder(ws, run.id), ignore_errors=True)
    return {"process": process_s, "step": (record.end_time - record.started_ms) / 1000,
            "size": size, "on_disk": on_disk}


SINKS = {"append": "AppendSink, embedded default", "upload": "UploadSink, remote",
         "naive": "naive: re-upload all every 1 s"}


@pytest.mark.bench
def test_bench_logship(mlflow_server, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "script.py").write_text(SCRIPT.lstrip())
    mlflow_server.artifacts.mkdir(exist_ok=True)
    ws = Workspace(mlflow_server.url)
    experiment_id = ws.rest.get_or_create_experiment(f"bench-logship-{uuid.uuid4().hex[:8]}")

    rows, results = [], {}
    for pace_name, pace in PACES.items():
        repeat = REPEAT if pace == 0 else 1
        walls: dict[str, list[float]] = {"devnull": [], "file": []}
        runs: dict[str, list[dict]] = {kind: [] for kind in SINKS}
        for _ in range(repeat):  # interleaved, so that a noisy moment hits every way alike
            walls["devnull"].append(plain_run(src, pace, None))
            walls["file"].append(plain_run(src, pace, tmp_path / "stdout.txt") if pace == 0 else 0.0)
            for kind in SINKS:
                runs[kind].append(sink_run(kind, ws, experiment_id, src, mlflow_server.artifacts,
                                           tmp_path / "spool", pace))
        base = statistics.median(walls["devnull"])
        to_file = statistics.median(walls["file"])
        results[("base", pace)], results[("file", pace)] = base, to_file
        rows.append([f"stdout to /dev/null ({pace_name})", "-", "-", f"{base:.2f}", "1.00", "-", "-"])
        if pace == 0:
            rows.append([f"stdout to a local file, no runner ({pace_name})", "-", "-", f"{to_file:.2f}",
                         f"{to_file / base:.2f}", "1.00", "-"])
        for kind, label in SINKS.items():
            r = {key: statistics.median(x[key] for x in runs[kind]) for key in runs[kind][0]}
            results[(kind, pace)] = r
            rows.append([f"{label} ({pace_name})", f"{r['shipped']:,.0f}", f"{r['shipped'] / TOTAL:.2f}",
                         f"{r['wall']:.2f}", f"{r['wall'] / base:.2f}",
                         f"{r['wall'] / to_file:.2f}" if to_file else "-",
                         f"{r['total']:.2f}"])

    # the whole runner, interleaved with the plain baselines again (this part has its own baselines)
    samples: dict[str, list] = {"devnull": [], "file": [], "append": [], "upload": []}
    for _ in range(REPEAT):
        samples["devnull"].append(plain_run(src, 0.0, None))
        samples["file"].append(plain_run(src, 0.0, tmp_path / "stdout.txt"))
        for sink in ("append", "upload"):
            samples[sink].append(runner_run(sink, mlflow_server, src))
    runner = {sink: {key: statistics.median(x[key] for x in samples[sink]) for key in ("process", "step")}
              | {"size": samples[sink][-1]["size"], "on_disk": samples[sink][-1]["on_disk"]}
              for sink in ("append", "upload")}
    runner_base = statistics.median(samples["devnull"])
    runner_file = statistics.median(samples["file"])
    base, to_file = results[("base", 0.0)], results[("file", 0.0)]
    runner_rows = [[f"runner, {'embedded default (append)' if s == 'append' else 'remote-style (upload)'}",
                    f"{r['size']:,}", f"{r['on_disk']:,}" if r["on_disk"] is not None else "-",
                    f"{r['process']:.2f}", f"{r['process'] / runner_base:.2f}",
                    f"{r['process'] / runner_file:.2f}", f"{r['step']:.2f}"]
                   for s, r in runner.items()]
    runner_rows[:0] = [["stdout to /dev/null", "-", "-", f"{runner_base:.2f}", "1.00", "-", "-"],
                       ["stdout to a local file, no runner", "-", "-", f"{runner_file:.2f}",
                        f"{runner_file / runner_base:.2f}", "1.00", "-"]]

    append = results[("append", 0.0)]
    naive_paced, upload_paced = results[("naive", 0.2)], results[("upload", 0.2)]
    naive_flat, upload_flat = results[("naive", 0.0)], results[("upload", 0.0)]
    wall_ratio = append["wall"] / base
    lines = [
        f"Log shipping: a step prints {TOTAL // MIB} MiB to stdout ({TOTAL // LINE:,} lines of {LINE} "
        f"bytes, PYTHONUNBUFFERED=1 as the runner sets), real MLflow {mlflow_server.url}, "
        f"{os.cpu_count()} cores",
        table(["way (pace)", "bytes shipped", "x 50 MiB", "process wall s", "x /dev/null", "x file",
               "incl. final upload s"], rows),
        "process wall: step process start to exit, pumps drained. "
        f"Flat out: median of {REPEAT}, interleaved.",
        f"naive / UploadSink bytes: {naive_flat['shipped'] / upload_flat['shipped']:.2f}x flat out, "
        f"{naive_paced['shipped'] / upload_paced['shipped']:.2f}x paced",
        "",
        table(["whole runner, flat out", "log size on server", "bytes on disk", "process s (job log)",
               "x /dev/null", "x file", "step startedat -> end s"], runner_rows),
        f"whole runner: median of {REPEAT}, interleaved with its own baselines.",
        "",
        f"bar: bytes shipped <= {BYTES_BAR} x 50 MiB (embedded default) -> "
        f"{'met' if append['shipped'] <= BYTES_BAR * TOTAL else 'NOT met'} "
        f"({append['shipped'] / TOTAL:.2f}x)",
        f"bar: wall time with shipping <= {WALL_BAR} x without (embedded default, flat out) -> "
        f"{'met' if wall_ratio <= WALL_BAR else 'NOT met'} against /dev/null ({wall_ratio:.2f}x in-process, "
        f"{runner['append']['process'] / runner_base:.2f}x through the runner); against stdout written "
        f"straight to a file {append['wall'] / to_file:.2f}x in-process, "
        f"{runner['append']['process'] / runner_file:.2f}x through the runner",
    ]
    publish("logship", "\n".join(lines))
    ws.transport.close()

    assert append["shipped"] <= BYTES_BAR * TOTAL  # byte counts, not times
    assert runner["append"]["on_disk"] == runner["append"]["size"] == TOTAL
