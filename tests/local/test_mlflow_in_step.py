"""Plain MLflow inside a step lands in the step's run, and never decides that run's status.

A real ``mlflow`` client runs inside a real step started by a real runner (embedded-default
layout, no credentials): ``MLFLOW_RUN_ID``/``MLFLOW_TRACKING_URI`` come from the runner.
"""

from __future__ import annotations

import os

import pytest

from steprun_widgets.local import PythonScriptStep
from tests.local.helpers import wait_terminal, wait_until, write_script
from tests.metrics_rest import history, latest
from tests.support import submit

MLFLOW_STEP = r'''
import os, sys, time
from pathlib import Path
import mlflow
from steprun_widgets import Run

ended, gate, code = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
assert mlflow.get_tracking_uri() == os.environ["MLFLOW_TRACKING_URI"]
assert os.environ.get("OWN_SITECUSTOMIZE") == "ran"


def work():
    mlflow.log_param("lr", "0.1")
    mlflow.log_metric("m", 1.0)
    mlflow.log_metric("m", 2.0, step=1)
    mlflow.set_tag("via", "mlflow")
    Run.get_context().log("ours", 5)


if code == 0:
    with mlflow.start_run() as active:  # resumes the step's run (MLFLOW_RUN_ID), sets RUNNING
        assert active.info.run_id == os.environ["STEPRUN_RUN_ID"]
        work()
    # leaving the block, MLflow ended the run (FINISHED)
else:
    work()                               # MLflow starts "its" run on the first call
    mlflow.autolog(silent=True)          # the fit logs params and metrics into the same run
    from sklearn.linear_model import LinearRegression
    LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    mlflow.end_run(status="FINISHED")
ended.write_text("mlflow ended its run")
deadline = time.monotonic() + 90
while not gate.exists() and time.monotonic() < deadline:
    time.sleep(0.1)
sys.exit(code)                         # non-zero: the runner says Failed, whatever MLflow said
'''


@pytest.mark.parametrize("code", [0, 3])
def test_mlflow_in_a_step_logs_into_its_run_and_never_ends_it(experiment, tmp_path, code, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"),
                                                                   str(tmp_path / "own-site")])))
    # an environment's own sitecustomize must keep running in steps
    write_script(tmp_path / "own-site", "sitecustomize.py", """
        import os
        os.environ["OWN_SITECUSTOMIZE"] = "ran"
    """)
    ended, gate = tmp_path / "ended", tmp_path / "gate"
    src = write_script(tmp_path / "s", "train.py", MLFLOW_STEP)
    run = submit(experiment, [PythonScriptStep("train.py", name="train", source_directory=src,
                                               arguments=[str(ended), str(gate), code])])
    ws = experiment.workspace
    step = wait_until(lambda: run.find_step_run("train"), 60, "the step run")[0]
    wait_until(lambda: ended.exists() or run.get_status() in ("Finished", "Failed"), 120,
               "the step's mlflow to end its run")
    # MLflow has ended "its" run: the step is still Running, as the runner says
    record = ws.rest.get_run(step.id)
    assert record.status == "RUNNING", (record.status, _logs(ws, record))
    assert record.end_time in (None, 0)
    gate.write_text("go")
    expected = "Finished" if code == 0 else "Failed"
    assert wait_terminal(run, 120) == expected
    record = ws.rest.get_run(step.id)
    assert record.status == ("FINISHED" if code == 0 else "FAILED")
    assert record.params["lr"] == "0.1"
    assert record.tags["via"] == "mlflow"
    assert [(s, v) for s, v, _ in history(ws, step.id, "m")] == [(0, 1.0), (1, 2.0)]
    assert [v for _, v, _ in history(ws, step.id, "ours")] == [5.0]
    if code:
        # autolog of the sklearn fit landed in the same run
        assert "fit_intercept" in record.params, record.params
        assert "training_score" in latest(ws, step.id)
        assert "exit code 3" in record.tags.get("steprun.error", "")


def test_no_mlflow_run_id_when_the_server_needs_credentials(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    from steprun_widgets.local.execute import context_environment
    from steprun_widgets.local.plan import PipelinePlan, RunnerCredentials, StepPlan

    step = StepPlan(name="s", node_id="n", run_id="abc", script_name="s.py", arguments=[], inputs=[],
                    outputs=[], source_directory=str(tmp_path))
    plan = PipelinePlan(tracking_uri="http://127.0.0.1:1", experiment_id="1", pipeline_run_id="p",
                        steps=[step], work_dir=str(tmp_path))
    open_env = context_environment({}, plan, step, tmp_path / "c", None)
    assert open_env["MLFLOW_RUN_ID"] == "abc" and open_env["STEPRUN_RUN_ID"] == "abc"
    locked = context_environment({}, plan, step, tmp_path / "c", RunnerCredentials(token="s3cret-token"))
    assert "MLFLOW_RUN_ID" not in locked and "MLFLOW_TRACKING_URI" not in locked
    assert locked["STEPRUN_CONTEXT"] == str(tmp_path / "c")  # Run.get_context() still works
    assert "s3cret-token" not in repr(locked)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")  # basic auth from MLflow's variables
    assert "MLFLOW_RUN_ID" not in context_environment({}, plan, step, tmp_path / "c", None)


def _logs(ws, record) -> str:
    from steprun_widgets.core import layout

    return "\n".join((ws.rest.read_range(record, path, 0) or (b"", 0))[0].decode(errors="replace")[:3000]
                     for path in (layout.LOG_FILES["stderr"], layout.LOG_FILES["job"]))


@pytest.fixture
def sink() -> str:
    """The embedded default's sink only: what is tested here does not depend on how logs ship."""
    return "append"
