"""Scale out: steps run as tasks on a real Dask cluster of two worker processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep
from tests.local.helpers import wait_until, work_folder, write_script

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def fan_pipeline(workspace, root):
    """make → (square, cube) in parallel → total: four steps, two of them independent."""
    make = write_script(root / "make", "make.py", """
        import json, os, socket, sys
        from pathlib import Path
        Path(sys.argv[1], "numbers.json").write_text(json.dumps(list(range(1, 11))))
        print("made 10 numbers; parent process", os.getppid())
    """)
    power = write_script(root / "power", "power.py", """
        import json, os, sys
        from pathlib import Path
        numbers = json.loads(Path(sys.argv[1], "numbers.json").read_text())
        k = int(sys.argv[3])
        Path(sys.argv[2], "powers.json").write_text(json.dumps([n ** k for n in numbers]))
        print(f"power {k}: done; parent process {os.getppid()}")
        print(f"power {k} ✓", file=sys.stderr)
    """)
    total = write_script(root / "total", "total.py", """
        import json, sys
        from pathlib import Path
        squares = json.loads(Path(sys.argv[1], "powers.json").read_text())
        cubes = json.loads(Path(sys.argv[2], "powers.json").read_text())
        Path(sys.argv[3], "total.json").write_text(json.dumps({"squares": sum(squares), "cubes": sum(cubes)}))
        print("total:", sum(squares), sum(cubes))
    """)
    numbers, squares, cubes, result = (PipelineData(n) for n in ("numbers", "squares", "cubes", "result"))
    return Pipeline(workspace, [
        PythonScriptStep("make.py", name="make", arguments=[numbers], outputs=[numbers],
                         source_directory=make),
        PythonScriptStep("power.py", name="square", arguments=[numbers, squares, 2], inputs=[numbers],
                         outputs=[squares], source_directory=power),
        PythonScriptStep("power.py", name="cube", arguments=[numbers, cubes, 3], inputs=[numbers],
                         outputs=[cubes], source_directory=power),
        PythonScriptStep("total.py", name="total", arguments=[squares, cubes, result],
                         inputs=[squares, cubes], outputs=[result], source_directory=total),
    ])


@pytest.mark.parametrize(("sink", "how"), [("append", "client"), ("upload", "address")])
def test_pipeline_runs_on_dask_workers(experiment, dask_client, sink, how, tmp_path):
    executor = dask_client if how == "client" else dask_client.scheduler.address
    run = experiment.submit(fan_pipeline(experiment.workspace, tmp_path), executor=executor)
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED

    steps = {s.name: s for s in run.get_steps()}
    assert [s.get_status() for s in steps.values()] == [layout.FINISHED] * 4
    assert steps["square"].get_stdout_log().startswith("power 2: done; parent process ")
    assert steps["cube"].get_stderr_log() == "power 3 ✓\n"
    assert "starting on" in steps["total"].get_job_log()
    folder = steps["total"].get_output_data("result").download(local_path=tmp_path / "dl",
                                                               show_progress=False)
    got = json.loads((Path(folder) / "total.json").read_text())
    assert got == {"squares": sum(n ** 2 for n in range(1, 11)), "cubes": sum(n ** 3 for n in range(1, 11))}
    # the workers removed the steps' folders, the runner the pipeline's (housekeeping)
    folder = work_folder(experiment.workspace, run.id)
    assert not any((folder / name).exists() for name in steps)
    wait_until(lambda: not folder.exists(), 30, "the runner to remove the pipeline's folder")

    # each script was started by a Dask worker process, not by the runner
    worker_pids = set(dask_client.run(os.getpid).values())
    parents = {int(steps[name].get_stdout_log().split()[-1]) for name in ("make", "square", "cube")}
    assert parents <= worker_pids, (parents, worker_pids)


@pytest.mark.parametrize("sink", ["append"])
def test_dask_cancel_reaches_the_worker(experiment, dask_client, tmp_path):
    src = write_script(tmp_path / "src", "long.py", """
        import time
        print("waiting", flush=True)
        time.sleep(120)
    """)
    run = experiment.submit(Pipeline(experiment.workspace, [
        PythonScriptStep("long.py", name="long", source_directory=src)]), executor=dask_client)
    step = wait_until(lambda: run.find_step_run("long"), 30, "the step")[0]
    wait_until(lambda: "waiting" in step.get_stdout_log(), 60, "the step to start on a worker")
    run.cancel()
    wait_until(lambda: step.get_status() == layout.CANCELED, 10, "the step to be Canceled")
    assert run.get_status() == layout.CANCELED


@pytest.mark.parametrize("sink", ["upload"])
def test_run_context_on_a_dask_worker(experiment, dask_client, tmp_path):
    """Run.get_context() in a step on a worker: the worker's execute_step ships what it logged."""
    from tests.metrics_rest import history

    src = write_script(tmp_path / "src", "train.py", """
        import os
        from steprun_widgets import Run
        run = Run.get_context()
        for epoch in range(50):
            run.log("loss", 1 / (epoch + 1), description="training loss")
        run.log("accuracy", 0.9)
        run.tag("parent_pid", os.getppid())
        with open("notes.txt", "w") as f:
            f.write("from a worker")
        run.upload_file("notes/worker.txt", "notes.txt")
    """)
    run = experiment.submit(Pipeline(experiment.workspace, [
        PythonScriptStep("train.py", name="train", source_directory=src)]),
        executor=dask_client.scheduler.address)
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED
    step = run.find_step_run("train")[0]
    ws = experiment.workspace
    assert [v for _, v, _ in history(ws, step.id, "loss")] == [1 / (e + 1) for e in range(50)]
    assert [v for _, v, _ in history(ws, step.id, "accuracy")] == [0.9]
    record = ws.rest.get_run(step.id)
    # started by a Dask worker process, which shipped what it logged
    assert int(record.tags["parent_pid"]) in set(dask_client.run(os.getpid).values())
    assert ws.rest.read_range(record, "notes/worker.txt", 0)[0] == b"from a worker"
