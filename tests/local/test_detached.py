"""The runner is detached from the submitting process, and a step's environment gains no secret."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from steprun_widgets import Experiment, PipelineRun
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PythonScriptStep
from tests.local.conftest import make_workspace, stop_leftovers
from tests.local.helpers import (
    REPO,
    SAMPLE,
    copy_sample,
    sample_module,
    wait_terminal,
    wait_until,
    work_folder,
    write_script,
)


@pytest.mark.parametrize("sink", ["append"])
def test_pipeline_finishes_after_the_submitting_process_exits(experiment, mlflow_server, sink, tmp_path):
    root = copy_sample(tmp_path / "sample")
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(SAMPLE)!r})
        from sample_pipeline import build_pipeline
        from steprun_widgets import Experiment, Workspace
        ws = Workspace({mlflow_server.url!r})
        if {sink == "append"}:
            ws.local_root = __import__("pathlib").Path({str(mlflow_server.folder)!r})
        run = Experiment(ws, {experiment.name!r}).submit(build_pipeline(ws, root={str(root)!r}, rows=40))
        print(run.id)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]

    # the submitting process is gone; the pipeline was not finished when it left, and goes on
    run = PipelineRun(experiment, run_id)
    assert run.get_status() == layout.RUNNING  # train alone takes 2 s
    assert wait_terminal(run, 120) == layout.FINISHED
    assert [s.get_status() for s in run.get_steps()] == [layout.FINISHED] * 3
    assert "epoch 10/10" in run.find_step_run("train")[0].get_stdout_log()
    assert set(run.find_step_run("evaluate")[0].get_outputs()) == {"metrics"}


def test_step_environment_does_not_gain_the_token(mlflow_server, sink, experiment_name, tmp_path,
                                                  monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.delenv("STEPRUN_RUNNER_TOKEN", raising=False)
    secret = "tok-0123456789-very-secret"
    ws = make_workspace(mlflow_server, sink, token=secret)  # the test server ignores auth
    gate = tmp_path / "gate"
    src = write_script(tmp_path / "src", "env.py", f"""
        import os, time
        for name in ("STEPRUN_RUNNER_TOKEN", "MLFLOW_TRACKING_TOKEN"):
            print(name, os.environ.get(name))
        print("secret anywhere:", any("very-secret" in v for v in os.environ.values()), flush=True)
        deadline = time.time() + 60
        while not os.path.exists({str(gate)!r}) and time.time() < deadline:
            time.sleep(0.05)
    """)
    experiment = Experiment(ws, experiment_name)
    run = experiment.submit(Pipeline(ws, [PythonScriptStep("env.py", name="env", source_directory=src)]))
    step = wait_until(lambda: run.find_step_run("env"), 30, "the step")[0]
    wait_until(lambda: "secret anywhere" in step.get_stdout_log(), 60, "the step to print")
    # nor is it written anywhere the runner keeps files (looked at while they exist: the runner
    # removes them once the run is over)
    files = [p for p in work_folder(ws, run.id).rglob("*") if p.is_file()]
    assert any(p.name == "plan.json" for p in files), files
    for path in files:
        assert secret.encode() not in path.read_bytes(), path
    gate.touch()
    assert run.wait_for_completion(show_output=False, timeout_seconds=60) == layout.FINISHED
    assert step.get_stdout_log() == ("STEPRUN_RUNNER_TOKEN None\nMLFLOW_TRACKING_TOKEN None\n"
                                     "secret anywhere: False\n")
    for log in ("stdout", "stderr", "job"):
        assert secret not in step._read_log(log)
    stop_leftovers(experiment)


def test_sample_pipeline_is_importable_standalone():
    """The sample scripts use the standard library and ``steprun_widgets`` only (``Run.get_context()``:
    the runner that starts a step is steprun_widgets, so it is there wherever the step runs)."""
    import ast

    allowed = set(sys.stdlib_module_names) | {"steprun_widgets"}
    for script in SAMPLE.glob("*/*.py"):
        tree = ast.parse(script.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                assert name.split(".")[0] in allowed, f"{script.name} imports {name}"
    assert sample_module().STEPS == {"prep": ["dataset"], "train": ["model"], "evaluate": ["metrics"]}
