"""Housekeeping: a run that is over leaves no copy of its data in the work area.

Real runs with real runner processes against the session's MLflow server, and the real
``steprun-widgets clean`` / ``server status`` commands as subprocesses. Most tests give the
workspace a root of their own (``local_root`` without the server's artifact folder: the runner then
uploads its logs), so each sees its own work area; one runs on the embedded layout (logs appended
into the server's artifact folder, work area beside it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steprun_widgets import Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep, workarea
from tests.local.helpers import alive, kill_runners, runner_processes, wait_until, write_script

MB = 1024 * 1024

#: Writes 10 MB into its output, says so, then waits for the gate file (if given) and exits with
#: the code asked for.
BIG = """
import os, sys, time
from pathlib import Path

out, code = Path(sys.argv[1]), int(sys.argv[2])
gate = Path(sys.argv[3]) if len(sys.argv) > 3 else None
with open(out / "big.bin", "wb") as f:
    f.write(os.urandom(10 * 1024 * 1024))
print(f"pid {os.getpid()} wrote 10 MB", flush=True)
deadline = time.time() + 120
while gate is not None and not gate.exists() and time.time() < deadline:
    time.sleep(0.05)
sys.exit(code)
"""

USE = """
import sys
import time
from pathlib import Path

print("input bytes", sum(p.stat().st_size for p in Path(sys.argv[1]).rglob("*") if p.is_file()))
"""


@pytest.fixture
def sink() -> str:
    return "upload"


@pytest.fixture
def own_root(tmp_path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def workspace(mlflow_server, own_root, request, monkeypatch):
    """The session's server; the work area under ``own_root`` unless the test asks for the
    embedded layout (``@pytest.mark.parametrize("embedded", [True])``)."""
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.delenv(workarea.KEEP_FAILED_ENV, raising=False)
    monkeypatch.delenv(workarea.KEEP_FAILED_DAYS_ENV, raising=False)
    ws = Workspace(mlflow_server.url)
    if getattr(request, "param", False):
        mlflow_server.artifacts.mkdir(exist_ok=True)
        ws.local_root = mlflow_server.folder
    else:
        own_root.mkdir()
        ws.local_root = own_root
    yield ws
    ws.transport.close()


def cli(*args: str, env: dict | None = None) -> str:
    """Run ``steprun-widgets ARGS`` as a real process; its stdout."""
    done = subprocess.run([sys.executable, "-m", "steprun_widgets.cli", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def clean(ws: Workspace, *args: str) -> str:
    return cli("clean", "--root", str(ws.local_root), "--tracking-uri", ws.tracking_uri, *args)


def big_step(src: Path, data: PipelineData, code: int, gate: Path | None = None) -> PythonScriptStep:
    args = [data, str(code)] + ([str(gate)] if gate else [])
    return PythonScriptStep("big.py", name="big", arguments=args, outputs=[data], source_directory=src)


def folder_of(ws: Workspace, run) -> Path:
    return workarea.work_area(ws.local_root) / run.id


def wait_written(step) -> int:
    """The step's pid once it has written its 10 MB."""
    log = wait_until(lambda: "wrote 10 MB" in (text := step.get_stdout_log()) and text, 60,
                     "the step to write its output")
    return int(log.split()[1])


@pytest.mark.parametrize("workspace", [False, True], ids=["own-root", "embedded"], indirect=True)
def test_finished_run_leaves_nothing_and_running_step_is_never_cleaned(experiment, tmp_path):
    ws = experiment.workspace
    src = write_script(tmp_path / "src", "big.py", BIG)
    write_script(src, "use.py", USE)
    data, gate = PipelineData("big"), tmp_path / "gate"
    run = experiment.submit(Pipeline(ws, [
        big_step(src, data, 0, gate),
        PythonScriptStep("use.py", name="use", arguments=[data], inputs=[data], source_directory=src)]))
    big = run.find_step_run("big")[0]
    wait_written(big)
    step_dir = folder_of(ws, run) / "big"
    assert workarea.folder_size(step_dir) >= 10 * MB

    report = clean(ws)  # while the step runs: its folder is held, nothing of it goes
    assert f"kept {folder_of(ws, run)}" in report and "in use by a live runner or step" in report
    assert (step_dir / "outputs" / "big" / "big.bin").stat().st_size == 10 * MB

    gate.touch()
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED
    # the consumer read the producer's outputs in place, then both folders and the pipeline's went
    assert run.find_step_run("use")[0].get_stdout_log() == f"input bytes {10 * MB}\n"
    assert not step_dir.exists()  # the steps' folders went before the pipeline was marked final
    wait_until(lambda: not folder_of(ws, run).exists(), 30, "the runner to remove the pipeline's folder")
    # what it held is on the server
    out = big.get_output_data("big").download(local_path=str(tmp_path / "dl"))
    assert (Path(out) / "big.bin").stat().st_size == 10 * MB


def test_failed_steps_are_kept_for_debugging_within_the_retention(experiment, tmp_path, monkeypatch):
    monkeypatch.setenv(workarea.KEEP_FAILED_ENV, "2")
    ws = experiment.workspace
    src = write_script(tmp_path / "src", "big.py", BIG)
    runs = []
    for _ in range(3):
        run = experiment.submit(Pipeline(ws, [big_step(src, PipelineData("big"), 3)]))
        assert run.wait_for_completion(show_output=False, raise_on_error=False,
                                       timeout_seconds=120) == layout.FAILED
        wait_until(lambda run=run: not runner_processes(run.id), 30, "the runner to exit")
        runs.append(run)
        step_dir = folder_of(ws, run) / "big"
        assert f"Step folder kept for debugging at {step_dir} " in run.find_step_run("big")[0].get_job_log()
        assert (step_dir / "outputs" / "big" / "big.bin").stat().st_size == 10 * MB
        # the failed pipeline keeps its runner's log, not its plan
        assert f"pipeline {run.id}: Failed" in (folder_of(ws, run) / "runner.log").read_text()
        assert not (folder_of(ws, run) / "plan.json").exists()
    # the third one evicted the oldest
    assert [folder_of(ws, r).exists() for r in runs] == [False, True, True]

    status = cli("server", "status", "--root", str(ws.local_root))
    assert f"work area {workarea.work_area(ws.local_root)}: 20.0 MB in 2 run folder(s), 2 kept " \
           "for debugging" in status, status

    assert "kept for debugging (--all removes it)" in clean(ws)  # within the bound: stays
    assert all(folder_of(ws, r).exists() for r in runs[1:])
    assert "removed 2 folder(s)" in clean(ws, "--all")
    assert not any(folder_of(ws, r).exists() for r in runs)
    assert "empty" in cli("server", "status", "--root", str(ws.local_root))


def test_a_killed_runner_leaves_a_folder_clean_removes_once_the_run_is_not_running(experiment, tmp_path):
    ws = experiment.workspace
    src = write_script(tmp_path / "src", "big.py", BIG)
    run = experiment.submit(Pipeline(ws, [big_step(src, PipelineData("big"), 0, tmp_path / "never")]))
    step_pid = wait_written(run.find_step_run("big")[0])
    kill_runners(run.id)  # SIGKILL: no chance to tidy up; the kernel drops its locks
    wait_until(lambda: not alive(step_pid), 30, "the step to die with its runner")
    folder = folder_of(ws, run)
    assert folder.is_dir()
    assert run.get_status() == layout.RUNNING  # its heartbeat is still fresh

    report = clean(ws)
    assert f"kept {folder}" in report and f"pipeline run {run.id} is Running" in report
    assert folder.is_dir()

    # Time passes (HEARTBEAT_STALE_AFTER) without a beat: the run is NotResponding.
    ws.rest.set_tag(run.id, layout.TAG_HEARTBEAT, layout.heartbeat_value(time.time() - 3600))
    assert run.get_status() == layout.NOT_RESPONDING

    report = clean(ws, "--dry-run")
    assert f"would remove {folder} (10.0 MB): pipeline run {run.id} is NotResponding" in report
    assert "would remove 1 folder(s), 10.0 MB" in report
    assert folder.is_dir() and workarea.folder_size(folder) >= 10 * MB  # dry run: nothing removed

    report = clean(ws)
    assert f"removed {folder} (10.0 MB)" in report
    assert not folder.exists()
    run.cancel()  # no runner to ask: the runs end Canceled at once
    assert run.get_status() == layout.CANCELED


def test_canceled_run_leaves_nothing(experiment, tmp_path):
    ws = experiment.workspace
    src = write_script(tmp_path / "src", "big.py", BIG)
    run = experiment.submit(Pipeline(ws, [big_step(src, PipelineData("big"), 0, tmp_path / "never")]))
    wait_written(run.find_step_run("big")[0])
    run.cancel()
    assert run.wait_for_completion(show_output=False, raise_on_error=False,
                                   timeout_seconds=60) == layout.CANCELED
    wait_until(lambda: not folder_of(ws, run).exists(), 30, "the runner to remove its folder")


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_retention_setting_is_refused_naming_it(monkeypatch, value):
    monkeypatch.setenv(workarea.KEEP_FAILED_ENV, value)
    with pytest.raises(workarea.WorkAreaError, match=f"{workarea.KEEP_FAILED_ENV}='{value}'"):
        workarea.Retention.from_env()


def test_retention_keeps_the_newest_within_count_and_age(tmp_path):
    now = 1_000_000.0
    for i, age_days in enumerate([0.1, 0.2, 3, 10]):
        marker = tmp_path / f"run{i}" / "step" / workarea.KEPT_MARKER
        marker.parent.mkdir(parents=True)
        marker.touch()
        os.utime(marker, (now - age_days * 86400,) * 2)
    (tmp_path / "run9").mkdir()  # nothing kept there: not retention's business
    evicted = workarea.enforce_retention(tmp_path, workarea.Retention(count=3, days=7), now=now)
    assert [p.name for p in evicted] == ["run3"]  # too old
    live = workarea.FolderLock(tmp_path / "run2" / "other-step" / workarea.STEP_LOCK)  # still working
    evicted = workarea.enforce_retention(tmp_path, workarea.Retention(count=1, days=7), now=now)
    assert [p.name for p in evicted] == ["run1"]  # beyond the count: the oldest go, never a live one
    live.release()
    evicted = workarea.enforce_retention(tmp_path, workarea.Retention(count=1, days=7), now=now)
    assert [p.name for p in evicted] == ["run2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run0", "run9"]


@pytest.mark.parametrize("code", [0, 3], ids=["finished", "failed"])
def test_a_step_on_another_machine_cleans_up_where_its_folder_is(experiment, tmp_path, monkeypatch, code):
    """What a Dask worker on another machine does: the plan's work folder is not there, so the step
    works in the worker's temp work area, and removes (or keeps) its folder there itself."""
    import tempfile

    from steprun_widgets.local.execute import execute_step
    from steprun_widgets.local.plan import PipelinePlan, StepPlan

    monkeypatch.setenv("TMPDIR", str(tmp_path / "worker-tmp"))
    monkeypatch.setattr(tempfile, "tempdir", None)  # recomputed from TMPDIR
    (tmp_path / "worker-tmp").mkdir()
    ws = experiment.workspace
    src = write_script(tmp_path / "src", "big.py", BIG)
    experiment_id = experiment.ensure()
    pipeline = ws.rest.create_run(experiment_id, name="by hand", tags={})
    step = ws.rest.create_run(experiment_id, name="big", tags={layout.TAG_PARENT_RUN_ID: pipeline.run_id})
    plan = PipelinePlan(
        tracking_uri=ws.tracking_uri, experiment_id=experiment_id, pipeline_run_id=pipeline.run_id,
        work_dir=str(tmp_path / "on-the-runner-machine" / pipeline.run_id), python=sys.executable,
        steps=[StepPlan(name="big", node_id="n1", run_id=step.run_id, script_name="big.py",
                        arguments=[{"data": "big"}, str(code)], inputs=[], outputs=["big"],
                        source_directory=str(src))])
    result = execute_step(plan, "big")
    folder = workarea.work_area(None) / pipeline.run_id
    assert str(folder).startswith(str(tmp_path / "worker-tmp"))
    if code == 0:
        assert result["status"] == layout.FINISHED
        assert not folder.exists()
        return
    assert result["status"] == layout.FAILED
    assert (folder / "big" / "outputs" / "big" / "big.bin").stat().st_size == 10 * MB
    assert json.loads((folder / "run.json").read_text()) == {"tracking_uri": ws.tracking_uri,
                                                             "pipeline_run_id": pipeline.run_id}
    env = {"TMPDIR": str(tmp_path / "worker-tmp")}
    # `clean --temp` asks the server the run was submitted to: the pipeline still runs there
    assert f"pipeline run {pipeline.run_id} is Running" in cli("clean", "--temp", "--all", env=env)
    ws.rest.update_run(pipeline.run_id, "FAILED", int(time.time() * 1000))  # as its runner would
    assert f"removed {folder} (10.0 MB)" in cli("clean", "--temp", "--all", env=env)
    assert not folder.exists()
