"""``steprun-widgets watch RUN_ID``: the terminal's wait_for_completion, for pipelines and steps."""

from __future__ import annotations

import subprocess
import sys

from steprun_widgets import Experiment, Workspace
from steprun_widgets.local import Pipeline, PythonScriptStep


def _watch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "steprun_widgets.cli", "watch", *args],
                          capture_output=True, text=True, timeout=120)


def _submit(tracking_uri, experiment_name, tmp_path, body: str):
    (tmp_path / "step.py").write_text(body, encoding="utf-8")
    ws = Workspace(tracking_uri)
    step = PythonScriptStep("step.py", name="only", source_directory=tmp_path, allow_reuse=False)
    return Experiment(ws, experiment_name).submit(Pipeline(ws, [step]))


def test_watch_pipeline_streams_logs_and_exits_0(tracking_uri, experiment_name, tmp_path):
    run = _submit(tracking_uri, experiment_name, tmp_path,
                  "import time\nprint('héllo from the step', flush=True)\ntime.sleep(1)\nprint('bye')\n")
    done = _watch(run.id, "--tracking-uri", tracking_uri)
    assert done.returncode == 0, done.stderr
    assert f"PipelineRunId: {run.id}" in done.stdout
    assert "[only] héllo from the step" in done.stdout
    assert "Finished" in done.stdout.splitlines()[-2] or "only: Finished" in done.stdout

    step_id = run.get_steps()[0].id
    again = _watch(step_id, "--tracking-uri", tracking_uri)
    assert again.returncode == 0
    assert f"StepRunId: {step_id}" in again.stdout and "bye" in again.stdout


def test_watch_failed_step_exits_1_and_names_the_error(tracking_uri, experiment_name, tmp_path):
    run = _submit(tracking_uri, experiment_name, tmp_path,
                  "import sys\nprint('about to fail', file=sys.stderr)\nsys.exit(3)\n")
    done = _watch(run.id, "--tracking-uri", tracking_uri)
    assert done.returncode == 1
    assert "Failed" in done.stdout


def test_watch_bad_run_id_is_a_clear_error(tracking_uri):
    done = _watch("../etc/passwd", "--tracking-uri", tracking_uri)
    assert done.returncode == 2
    assert "'../etc/passwd' is not a valid run id" in done.stderr
    assert "Traceback" not in done.stderr
    missing = _watch("0123456789abcdef", "--tracking-uri", tracking_uri)
    assert missing.returncode == 2 and "0123456789abcdef" in missing.stderr
