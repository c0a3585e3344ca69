"""The client, the widgets and a local pipeline submitted to a remote server work where POSIX does not.

Windows cannot run in CI here, so its code path is run on Linux: ``fcntl`` is made unavailable (as on
Windows) and the engine's one POSIX-only module says it is not on POSIX, in the test process and in
every process it starts (a ``sitecustomize`` on their path): the runner, its steps, their locks and
process handling then take the portable way (psutil, filelock, creation flags).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from steprun_widgets.errors import StepRunError
from steprun_widgets.local import posix
from tests.local.helpers import REPO, write_script

AS_ON_WINDOWS = """
import contextlib, sys, warnings
with contextlib.suppress(ImportError):  # IPython's POSIX-only helper (IPython uses another on Windows)
    import pexpect
sys.modules["fcntl"] = None  # no such module on Windows: steprun-widgets must not need it
warnings.filterwarnings("ignore", "only soft file lock")
import steprun_widgets.local.posix as posix
posix.AVAILABLE = False
"""

CLIENT = """
import sys
assert sys.modules["fcntl"] is None
import steprun_widgets
from steprun_widgets import Experiment, PipelineRunWidget, StepRunWidget, Workspace
from steprun_widgets.local import Pipeline, PythonScriptStep

ws = Workspace(sys.argv[1])
step = PythonScriptStep("hello.py", name="hello", source_directory=sys.argv[2], allow_reuse=False)
run = Experiment(ws, sys.argv[3]).submit(Pipeline(ws, [step]))
status = run.wait_for_completion(show_output=False, timeout_seconds=120, raise_on_error=False)
step_run = run.find_step_run("hello")[0]
PipelineRunWidget(run), StepRunWidget(step_run)
print("status", status, step_run.get_details().get("error"), step_run.get_stderr_log()[-500:])
print("stdout", step_run.get_stdout_log().strip())
print("fcntl", sys.modules["fcntl"])
"""


def test_client_widgets_and_a_remote_submit_work_without_posix(tracking_uri, experiment_name, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(AS_ON_WINDOWS)
    source = write_script(tmp_path / "src", "hello.py", "import sys\nprint('hello', sys.modules['fcntl'])\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), str(REPO), os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", CLIENT, tracking_uri, str(source), experiment_name],
                          capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("status Finished"), done.stdout + done.stderr
    assert "stdout hello None" in lines  # the step, too, ran without fcntl
    assert "fcntl None" in lines


def test_the_posix_only_module_names_what_needs_posix(monkeypatch):
    monkeypatch.setattr(posix, "AVAILABLE", False)
    with pytest.raises(StepRunError, match="needs a POSIX system"):
        posix.require("the thing")
    assert posix.child_preexec(0o022) is None
    posix.kill_group(os.getpid())  # nothing to signal: does nothing (this process lives on)
