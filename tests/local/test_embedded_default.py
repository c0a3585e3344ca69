"""The embedded default over a working day: one server per person, idle stop and transparent restart,
a stop that refuses or cancels, runners that follow a moved server or give up on a lost one.

Real servers (``steprun_widgets.local.serve``), real runner and step processes; each test has a root
of its own (a per-user root through ``STEPRUN_HOME`` where that is what it tests) and stops its server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import pytest

from steprun_widgets import Experiment, PipelineRun, Workspace
from steprun_widgets.core import layout
from steprun_widgets.errors import RunNotFoundError
from steprun_widgets.local import PythonScriptStep
from steprun_widgets.local import server as srv
from steprun_widgets.local.runner import SERVER_GONE_ERROR
from tests.local.helpers import REPO, alive, runner_processes, wait_until, work_folder, write_script
from tests.support import submit

pytestmark = pytest.mark.timeout(300)

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}

#: A step that says it started, then waits for a file (or at most two minutes).
WAITING_STEP = """
import pathlib, sys, time
print("step started", flush=True)
go = pathlib.Path(sys.argv[1])
deadline = time.monotonic() + 120
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.1)
print("step done", flush=True)
"""


@pytest.fixture
def root(tmp_path):
    """A fresh root; its server (and any run still going on it) stopped at the end."""
    path = (tmp_path / "home").resolve()
    yield path
    with contextlib.suppress(Exception):
        srv.stop_server(path, force=True, grace=5)


def _cli(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "steprun_widgets.cli", *args], capture_output=True,
                          text=True, timeout=180, env=env or ENV, cwd=cwd or REPO)


def _waiting_pipeline(ws: Workspace, tmp_path, name: str) -> tuple[PipelineRun, object]:
    go = tmp_path / f"go-{name}"
    source = write_script(tmp_path / f"src-{name}", "wait.py", WAITING_STEP)
    run = submit(Experiment(ws, name), [PythonScriptStep("wait.py", name="wait", arguments=[str(go)],
                                                         source_directory=str(source), allow_reuse=False)])
    step = wait_until(lambda: run.find_step_run("wait"), 60, "the step run to exist")[0]
    wait_until(lambda: "step started" in step.get_stdout_log(), 120, "the step to start")
    return run, go


def _step_pids(run_id: str) -> list[int]:
    return [child.pid for runner in runner_processes(run_id) for child in runner.children(recursive=True)]


def test_two_folders_reach_one_per_user_server(root, tmp_path):
    env = {**ENV, "STEPRUN_HOME": str(root)}
    code = "from steprun_widgets import Workspace; print(Workspace.local().tracking_uri)"
    outs = []
    (tmp_path / "notebooks-b" / ".steprun").mkdir(parents=True)  # b also has an old project-local store
    (tmp_path / "notebooks-b" / ".steprun" / "mlflow.db").write_bytes(b"")
    for folder in ("notebooks-a", "notebooks-b"):  # two working folders, as two notebooks would be in
        (tmp_path / folder).mkdir(exist_ok=True)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                              env=env, cwd=tmp_path / folder)
        assert done.returncode == 0, done.stderr
        outs.append(done.stdout.splitlines())
    (first, url), (second, note, url_again) = outs
    assert url == url_again
    assert first == f"Started the embedded MLflow server at {url} (root: {root})"
    assert second == f"Reusing the embedded MLflow server at {url} (root: {root})"
    assert note.startswith(f"Note: {tmp_path / 'notebooks-b' / '.steprun'} holds the store of an older")
    assert not (tmp_path / "notebooks-a" / ".steprun").exists()

    info = srv.server_status(root)
    assert info is not None and info.url == url
    assert [p.pid for p in srv.processes.tree(info.pid)] == [info.pid], "the server is one process"

    status = _cli("server", "status", env=env)  # no --root: the same per-user root
    assert status.returncode == 0, status.stderr
    assert url in status.stdout and "0 run(s) going on" in status.stdout

    ws = Workspace.local(root, quiet=True)
    with pytest.raises(RunNotFoundError) as err:
        ws.rest.get_run("0123456789abcdef0123456789abcdef")
    assert f"the embedded server of {root}" in str(err.value)


def test_an_explicit_old_style_root_keeps_working(tmp_path, capsys):
    legacy = tmp_path / ".steprun"
    try:
        ws = Workspace.local(legacy)
        assert ws.local_root == legacy.resolve()
        assert capsys.readouterr().out.startswith(f"Started the embedded MLflow server at {ws.tracking_uri}")
        assert (legacy / "mlflow.db").is_file()
    finally:
        srv.stop_server(legacy, force=True)


def test_an_idle_server_stops_and_the_next_request_starts_it_again(root, monkeypatch):
    monkeypatch.setenv("STEPRUN_SERVER_IDLE_TIMEOUT", "2")
    ws = Workspace.local(root, quiet=True)
    ws.transport.post_json("/api/2.0/mlflow/experiments/create", {"name": "before-idle"})
    first = srv.server_status(root)
    wait_until(lambda: not alive(first.pid), 90, "the idle server to stop itself")
    assert "no request for" in (root / "server.log").read_text()

    # the same workspace object, as a widget holds it: its next request starts the server again
    assert ws.rest.get_experiment_by_name("before-idle") is not None
    again = srv.server_status(root)
    assert again is not None and again.pid != first.pid
    assert again.port == first.port  # the port was free, so it is kept


def test_stop_refuses_while_a_run_goes_on_and_force_cancels_it(root, tmp_path):
    ws = Workspace.local(root, quiet=True)
    run, _go = _waiting_pipeline(ws, tmp_path, "stop-me")
    steps = _step_pids(run.id)
    assert steps, "the step runs as a child of its runner"

    status = _cli("server", "status", "--root", str(root))
    assert status.returncode == 0 and "1 run(s) going on" in status.stdout and run.id in status.stdout

    refused = _cli("server", "stop", "--root", str(root))
    assert refused.returncode == 1
    assert "not stopped" in refused.stderr and run.id in refused.stderr and "--force" in refused.stderr
    assert srv.server_status(root) is not None, "the server is still running"

    forced = _cli("server", "stop", "--root", str(root), "--force")
    assert forced.returncode == 0, forced.stderr
    assert f"canceling run {run.id}" in forced.stdout and "stopped" in forced.stdout
    assert srv.server_status(root) is None
    wait_until(lambda: not runner_processes(run.id), 60, "the runner to exit")
    assert not any(alive(pid) for pid in steps), "no step process outlives the canceled run"

    ws = Workspace.local(root, quiet=True)  # started again: the run was recorded Canceled first
    run = PipelineRun(Experiment(ws, "stop-me"), run.id)
    assert run.get_status() == layout.CANCELED
    assert run.find_step_run("wait")[0].get_status() == layout.CANCELED


def test_a_runner_follows_its_server_to_a_new_port(root, tmp_path):
    ws = Workspace.local(root, quiet=True)
    run, go = _waiting_pipeline(ws, tmp_path, "follow-me")
    before = srv.server_status(root)
    os.kill(before.pid, signal.SIGKILL)  # the server crashes...
    wait_until(lambda: not alive(before.pid), 30, "the server to die")
    # ...and comes back on another port (as when its port was taken meanwhile: without the record
    # of its port it takes a free one; a socket held on the old port would linger in TIME_WAIT here)
    (root / "server.json").unlink()
    after = srv.ensure_server(root)
    assert after.port != before.port
    go.touch()
    run = PipelineRun(Experiment(Workspace.local(root, quiet=True), "follow-me"), run.id)
    wait_until(lambda: layout.is_terminal(run.get_status()), 240, "the pipeline to end")
    step = run.find_step_run("wait")[0]
    assert run.get_status() == layout.FINISHED, step.get_job_log()
    assert "step done" in step.get_stdout_log()
    wait_until(lambda: not runner_processes(run.id), 60, "the runner to exit")


def test_a_runner_that_loses_its_server_fails_its_steps_and_exits(root, tmp_path, monkeypatch):
    monkeypatch.setenv("STEPRUN_SERVER_LOST_AFTER", "3")  # the runner inherits it
    ws = Workspace.local(root, quiet=True)
    run, _go = _waiting_pipeline(ws, tmp_path, "lose-me")
    steps = _step_pids(run.id)
    runner_log = work_folder(ws, run.id) / "runner.log"
    server = srv.server_status(root)
    os.kill(server.pid, signal.SIGKILL)  # gone, and nothing starts it again for now
    wait_until(lambda: "cannot reach the tracking server" in runner_log.read_text(), 120,
               "the runner to give up on its server")
    wait_until(lambda: not any(alive(pid) for pid in steps), 60, "the step process to be stopped")

    ws = Workspace.local(root, quiet=True)  # back: the runner records its last words, then exits
    wait_until(lambda: not runner_processes(run.id), 90, "the runner to exit")
    run = PipelineRun(Experiment(ws, "lose-me"), run.id)
    step = run.find_step_run("wait")[0]
    assert run.get_status() == layout.FAILED and step.get_status() == layout.FAILED
    assert ws.rest.get_run(step.id).tags[layout.TAG_ERROR] == SERVER_GONE_ERROR
