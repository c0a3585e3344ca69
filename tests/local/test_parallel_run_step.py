"""ParallelRunStep over a folder of 1,000 small files: mini-batches, init once per worker, append_row,
failed mini-batches within and beyond the thresholds (real runner, real worker processes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from steprun_widgets import Experiment
from steprun_widgets.core import layout
from steprun_widgets.local import ParallelRunConfig, ParallelRunStep, Pipeline, PipelineData
from steprun_widgets.local.parallel_run import mini_batches
from steprun_widgets.local.pipeline import PipelineDefinitionError
from tests.local.conftest import make_workspace
from tests.support import stop_leftovers

ENTRY = """
import argparse, os
from steprun_widgets.local import EntryScript

def init():
    global factor
    parser = argparse.ArgumentParser()
    parser.add_argument("--factor", type=int)
    factor = parser.parse_known_args()[0].factor
    EntryScript().logger.info("init pid %s", os.getpid())

def run(mini_batch):
    rows = []
    for path in mini_batch:
        name = os.path.basename(path)
        if "bad" in name:
            raise ValueError(f"cannot score {name}")
        rows.append(f"{name} {int(open(path).read()) * factor}")
    return rows
"""


@pytest.fixture
def inputs(tmp_path) -> Path:
    folder = tmp_path / "numbers"
    folder.mkdir()
    for i in range(1000):
        (folder / f"n{i:04d}.txt").write_text(str(i))
    return folder


def _pipeline(ws, tmp_path: Path, inputs: Path, **config) -> tuple[Pipeline, PipelineData]:
    src = tmp_path / "scoring"
    src.mkdir(exist_ok=True)
    (src / "score.py").write_text(ENTRY)
    scores = PipelineData("scores")
    prc = ParallelRunConfig(entry_script="score.py", source_directory=str(src), mini_batch_size=50,
                            process_count_per_node=2, node_count=1, run_max_try=2, **config)
    step = ParallelRunStep("score", prc, inputs=[str(inputs)], output=scores, arguments=["--factor", 3])
    return Pipeline(ws, [step]), scores


def test_a_thousand_files_with_a_failed_mini_batch_within_the_limit(mlflow_server, tmp_path, inputs, request):
    (inputs / "n0500.txt").rename(inputs / "n0500bad.txt")
    ws = make_workspace(mlflow_server, "append")
    experiment = Experiment(ws, f"prs-{request.node.name[:40]}")
    try:
        pipeline, _ = _pipeline(ws, tmp_path, inputs, allowed_failed_count=1)
        run = experiment.submit(pipeline)
        assert run.wait_for_completion(timeout_seconds=180, raise_on_error=False) == layout.FINISHED
        step = run.find_step_run("score")[0]
        got = step.get_output_data("scores").download(local_path=tmp_path / "dl", show_progress=False)
        rows = Path(got, "parallel_run_step.txt").read_text().splitlines()
        # mini-batch 10 (files 500..549) failed; the others wrote rows
        expected = {f"n{i:04d}.txt {i * 3}" for i in range(1000)}
        assert len(rows) == 950 and set(rows) <= expected
        assert rows[0] == "n0000.txt 0"  # in mini-batch order
        stderr = step.get_stderr_log()
        assert stderr.count("init pid") == 2  # init() once per worker process
        assert "failed after 2 tries: ValueError: cannot score n0500bad.txt" in stderr
        stdout = step.get_stdout_log()
        assert "1000 files in 20 mini-batches, 2 worker processes" in stdout
        assert "20 mini-batches, 19 done, 1 failed, 0 not run" in stdout
        metrics = step.get_metrics()  # live progress: a value per progress line
        assert metrics["mini_batches_total"] == 20
        assert metrics["mini_batches_done"][-1] == 19 and metrics["mini_batches_failed"][-1] == 1
        assert metrics["mini_batches_done"] == sorted(metrics["mini_batches_done"])
        from steprun_widgets import StepRunWidget

        charted = StepRunWidget(step).refresh().metrics  # the step's view charts the progress
        assert charted["mini_batches_done"]["points"][-1][1] == 19
        assert charted["mini_batches_done"]["count"] == len(metrics["mini_batches_done"]) > 1
    finally:
        stop_leftovers(experiment)


def test_failed_files_beyond_the_error_threshold_fail_the_step(mlflow_server, tmp_path, inputs, request):
    for i in (10, 700):
        (inputs / f"n{i:04d}.txt").rename(inputs / f"n{i:04d}bad.txt")
    ws = make_workspace(mlflow_server, "append")
    experiment = Experiment(ws, f"prs-{request.node.name[:40]}")
    try:
        pipeline, _ = _pipeline(ws, tmp_path, inputs, error_threshold=60)
        run = experiment.submit(pipeline)
        assert run.wait_for_completion(timeout_seconds=180, raise_on_error=False) == layout.FAILED
        step = run.find_step_run("score")[0]
        assert step.get_status() == layout.FAILED
        stderr = step.get_stderr_log()
        assert "ValueError: cannot score n0010bad.txt" in stderr
        assert "ParallelRunStep failed: 100 failed files, over error_threshold=60" in stderr
    finally:
        stop_leftovers(experiment)


def test_mini_batches_by_count_and_by_size_and_bad_configs(tmp_path):
    files = []
    for i, size in enumerate([10, 10, 30, 5, 100]):
        path = tmp_path / f"f{i}"
        path.write_bytes(b"x" * size)
        files.append(str(path))
    assert [len(b) for b in mini_batches(files, "files", 2)] == [2, 2, 1]
    assert [len(b) for b in mini_batches(files, "bytes", 40)] == [2, 2, 1]  # 100 bytes: a batch alone
    assert ParallelRunConfig("s.py", mini_batch_size="1KB").batch_value == 1024
    with pytest.raises(PipelineDefinitionError, match="mini_batch_size 'lots'"):
        ParallelRunConfig("s.py", mini_batch_size="lots")
    with pytest.raises(PipelineDefinitionError, match="partition_keys need a TabularDataset"):
        ParallelRunConfig("s.py", partition_keys=["region"])
    with pytest.raises(PipelineDefinitionError, match="append_row' needs output="):
        ParallelRunStep("s", ParallelRunConfig("s.py", source_directory=str(tmp_path)),
                        inputs=[str(tmp_path)])


def test_on_a_dask_cluster_each_mini_batch_is_a_task(mlflow_server, tmp_path, inputs, request):
    distributed = pytest.importorskip("distributed")
    (inputs / "n0123.txt").rename(inputs / "n0123bad.txt")
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    ws = make_workspace(mlflow_server, "upload")
    experiment = Experiment(ws, f"prs-{request.node.name[:40]}")
    try:
        pipeline, _ = _pipeline(ws, tmp_path, inputs, allowed_failed_percent=10)
        run = experiment.submit(pipeline, executor=client)
        assert run.wait_for_completion(timeout_seconds=180, raise_on_error=False) == layout.FINISHED
        step = run.find_step_run("score")[0]
        assert "one Dask task per mini-batch on tcp://" in step.get_stdout_log()
        stderr = step.get_stderr_log()
        # init() ran in Dask worker processes (the workers' own lines reach the step's log), once each
        inits = [line for line in stderr.splitlines() if "init pid" in line]
        worker_pids = {str(p) for p in client.run(os.getpid).values()}
        assert inits and len(inits) <= 2 and {line.split()[-1] for line in inits} <= worker_pids
        assert "failed after 2 tries: ValueError: cannot score n0123bad.txt" in stderr
        got = step.get_output_data("scores").download(local_path=tmp_path / "dl", show_progress=False)
        rows = Path(got, "parallel_run_step.txt").read_text().splitlines()
        assert len(rows) == 950 and "n0999.txt 2997" in rows
    finally:
        stop_leftovers(experiment)
        client.close()
        cluster.close()


def test_input_from_an_upstream_step_by_size_summary_only(mlflow_server, tmp_path, request):
    from steprun_widgets.local import PythonScriptStep

    src = tmp_path / "src"
    src.mkdir()
    (src / "make.py").write_text(
        "import os, sys\nfor i in range(30):\n"
        "    open(os.path.join(sys.argv[1], f'f{i:02d}.txt'), 'w').write('x' * 300)\n")
    (src / "count.py").write_text(
        "from steprun_widgets.local import EntryScript\n"
        "def run(mini_batch):\n"
        "    EntryScript().logger.info('batch of %d', len(mini_batch))\n"
        "    return [len(mini_batch)]\n")
    made = PipelineData("made")
    make = PythonScriptStep("make.py", name="make", arguments=[made], outputs=[made], source_directory=src)
    config = ParallelRunConfig(entry_script="count.py", source_directory=str(src), mini_batch_size="1KB",
                               output_action="summary_only", process_count_per_node=2)
    count = ParallelRunStep("count", config, inputs=[made])
    ws = make_workspace(mlflow_server, "append")
    experiment = Experiment(ws, f"prs-{request.node.name[:40]}")
    try:
        run = experiment.submit(Pipeline(ws, [count]))  # make comes along: it produces the input
        assert [s.name for s in run.steps_in_graph_order()] == [make.name, "count"]
        assert run.wait_for_completion(timeout_seconds=180, raise_on_error=False) == layout.FINISHED
        step = run.find_step_run("count")[0]
        # 300-byte files, at most 1 KB a mini-batch: 3 files each, 10 mini-batches
        assert "30 files in 10 mini-batches" in step.get_stdout_log()
        assert step.get_stderr_log().count("INFO batch of 3") == 10
        assert step.get_outputs() == {}
    finally:
        stop_leftovers(experiment)


def test_a_published_parallel_run_step_runs_from_its_snapshot(mlflow_server, tmp_path, request):
    import shutil

    from steprun_widgets.local import PublishedPipeline

    inputs = tmp_path / "few"
    inputs.mkdir()
    for i in range(6):
        (inputs / f"n{i}.txt").write_text(str(i))
    ws = make_workspace(mlflow_server, "append")
    pipeline, _ = _pipeline(ws, tmp_path, inputs)
    published = pipeline.publish(name=f"prs-{request.node.name[:40]}")
    shutil.rmtree(tmp_path / "scoring")  # the entry script's folder: only the snapshot is left
    experiment = Experiment(ws, f"prs-{request.node.name[:40]}")
    try:
        found = PublishedPipeline.get(ws, published.id)
        run = found.submit(ws, experiment.name)
        assert run.wait_for_completion(timeout_seconds=180, raise_on_error=False) == layout.FINISHED
        step = run.find_step_run("score")[0]
        got = step.get_output_data("scores").download(local_path=tmp_path / "dl", show_progress=False)
        assert Path(got, "parallel_run_step.txt").read_text().split("\n")[:2] == ["n0.txt 0", "n1.txt 3"]
        (inputs / "n0.txt").write_text("100")  # the input folder changed: the step runs again
        again = found.submit(ws, experiment.name)
        assert again.wait_for_completion(timeout_seconds=180, raise_on_error=False) == layout.FINISHED
        assert not again.find_step_run("score")[0]._is_reused
        same = found.submit(ws, experiment.name)  # nothing changed since: reused
        assert same.wait_for_completion(timeout_seconds=180, raise_on_error=False) == layout.FINISHED
        assert same.find_step_run("score")[0]._is_reused
    finally:
        stop_leftovers(experiment)
