"""Benchmark: a ParallelRunStep over 10,000 tiny files with a trivial ``run()``, against a plain
``concurrent.futures`` loop over the same mini-batches in the same run.

The step's time is its own span on the server (the runner's start tag to its end time): Python's
start, listing the files, the worker processes, the rows written. The naive way is a script that
does the same with a ``ProcessPoolExecutor`` of as many workers (``init()`` as its initializer),
timed from its start as a process to its exit. Per-mini-batch overhead = (step − loop) / mini-batches.

Bar (the ParallelRunStep issue): the step within 1.5× the loop on the local executor. Printed, not
asserted (wall-clock times on a shared machine). The column "import s" is what importing
``steprun_widgets.local.parallel_run`` costs a fresh interpreter here (the step's process pays it
before its first mini-batch; the loop imports only the standard library): with 10,000 tiny files
and a trivial ``run()`` the whole work takes well under a second, so that fixed cost decides the
ratio.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from steprun_widgets import Experiment, Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import ParallelRunConfig, ParallelRunStep, Pipeline, PipelineData
from tests.bench.report import publish, table

FILES = 10_000
WORKERS = 2
BAR = 1.5

ENTRY = """
import os

def init():
    global prefix
    prefix = "ok"

def run(mini_batch):
    return [f"{prefix} {os.path.basename(p)}" for p in mini_batch]
"""

LOOP = """
import concurrent.futures as cf, os, sys, importlib.util

def init(entry):
    global module
    spec = importlib.util.spec_from_file_location("entry", entry)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()

def work(batch):
    return module.run(batch)

if __name__ == "__main__":
    folder, entry, size, workers, out = sys.argv[1:6]
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        files.extend(os.path.join(dirpath, n) for n in sorted(filenames))
    size = int(size)
    batches = [files[i:i + size] for i in range(0, len(files), size)]
    with cf.ProcessPoolExecutor(int(workers), initializer=init, initargs=(entry,)) as pool:
        rows = [row for result in pool.map(work, batches) for row in result]
    with open(out, "w") as f:
        f.writelines(r + "\\n" for r in rows)
"""


def step_seconds(ws: Workspace, tmp: Path, inputs: Path, size: int) -> float:
    src = tmp / f"src-{size}"
    src.mkdir()
    (src / "score.py").write_text(ENTRY)
    rows = PipelineData("rows")
    config = ParallelRunConfig(entry_script="score.py", source_directory=str(src), mini_batch_size=size,
                               process_count_per_node=WORKERS, node_count=1)
    step = ParallelRunStep("score", config, inputs=[str(inputs)], output=rows)
    experiment = Experiment(ws, f"bench-prs-{uuid.uuid4().hex[:8]}")
    run = experiment.submit(Pipeline(ws, [step]), regenerate_outputs=True)
    assert run.wait_for_completion(show_output=False, timeout_seconds=600) == layout.FINISHED
    record = ws.rest.get_run(run.find_step_run("score")[0].id)
    return (record.end_time - record.started_ms) / 1000


def loop_seconds(tmp: Path, inputs: Path, size: int) -> float:
    script = tmp / "loop.py"
    script.write_text(LOOP)
    (tmp / "entry.py").write_text(ENTRY)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(script), str(inputs), str(tmp / "entry.py"), str(size),
                    str(WORKERS), str(tmp / "rows.txt")], check=True)
    seconds = time.perf_counter() - t0
    assert len((tmp / "rows.txt").read_text().splitlines()) == FILES
    return seconds


@pytest.mark.bench
def test_bench_parallel_run(mlflow_server, tmp_path):
    inputs = tmp_path / "tiny"
    inputs.mkdir()
    for i in range(FILES):
        (inputs / f"f{i:05d}.txt").write_text("x")
    ws = Workspace(mlflow_server.url)
    mlflow_server.artifacts.mkdir(exist_ok=True)
    ws.local_root = mlflow_server.folder  # the embedded default's log sink
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import steprun_widgets.local.parallel_run"], check=True)
    imported = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import concurrent.futures, argparse"], check=True)
    imported -= time.perf_counter() - t0
    rows = []
    for size in (100, 10):
        batches = FILES // size
        loop = loop_seconds(tmp_path, inputs, size)
        step = step_seconds(ws, tmp_path, inputs, size)
        rows.append([f"{FILES} files, mini_batch_size={size} ({batches} mini-batches), {WORKERS} workers",
                     f"{step:.2f}", f"{loop:.2f}", f"{step / loop:.2f}x",
                     f"{(step - loop) / batches * 1000:.2f}", f"{imported:.2f}", f"<= {BAR}x"])
    publish("parallel_run", table(
        ["case", "ParallelRunStep s", "futures loop s", "ratio", "overhead ms / mini-batch", "import s",
         "bar"], rows))
