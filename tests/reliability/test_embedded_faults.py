"""Faults of the embedded default: a full disk under its artifact store, a runner killed outright.

A full disk: nothing lost, nothing hanging, said plainly. A runner killed with SIGKILL: the MLflow
users it made for its steps are deleted by the next runner started on the same server.

The embedded server's ``artifacts/`` is a small tmpfs mounted for this module (mounting needs root,
as in CI; the module is skipped, saying so, where it cannot mount). The runner appends live logs
straight into that folder, and the server writes uploaded outputs there, so filling it hits both
the runner's side (a log write fails with ENOSPC) and the server's (an upload answered 500).

Every wait has a deadline; only processes this test process started are signalled, by pid.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import subprocess
from pathlib import Path

import psutil
import pytest
import requests

from steprun_widgets import Experiment, Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.cancel import cancel_pipeline
from steprun_widgets.local import PipelineData
from steprun_widgets.local import plan as plan_module
from steprun_widgets.local import server as local_server
from steprun_widgets.local import submit as submit_module
from steprun_widgets.local.diskspace import NoSpaceError
from steprun_widgets.local.logship import HOLD_LIMIT
from steprun_widgets.local.step_access import USER_PREFIX, step_usernames
from tests.reliability.helpers import (
    kill_runners,
    runner_processes,
    script_step,
    stop_leftovers,
    submit,
    wait_terminal,
    wait_until,
)

TMPFS_SIZE = "24m"

# Prints LINES numbered lines: FIRST of them, then waits for the test to fill the disk, then the
# rest (while no byte can be written), then says it is done and exits.
PRINTER = """
import os, sys, time
from pathlib import Path
Path({marks!r}, "{name}.pid").write_text(str(os.getpid()))
for i in range({lines}):
    if i == {first}:
        Path({marks!r}, "{name}.waiting").write_text("")
        deadline = time.monotonic() + 60
        while not Path({marks!r}, "full").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    print(f"{name} line {{i:04d}} ✓ ünï €", flush=True)
    time.sleep(0.002)
Path({marks!r}, "{name}.done").write_text("")
"""

# Once the disk is full, prints more than the runner may hold in memory, then would sleep a minute
# (it is stopped first).
FLOOD = """
import os, sys, time
from pathlib import Path
Path({marks!r}, "flood.pid").write_text(str(os.getpid()))
deadline = time.monotonic() + 60
while not Path({marks!r}, "full").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
block = ("x" * 1023 + "\\n").encode()
for i in range({blocks}):
    sys.stdout.buffer.write(block)
sys.stdout.flush()
time.sleep(60)
"""

WITH_OUTPUT = """
import sys
from pathlib import Path
print("writing the output", flush=True)
(Path(sys.argv[1]) / "data.bin").write_bytes(b"d" * 200_000)
print("output written", flush=True)
"""


def _mount_tmpfs(folder: Path) -> str | None:
    """Mount the tmpfs; None when mounted, else why it could not be."""
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "steprun-test",
                           str(folder)], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        return (f"cannot mount a tmpfs on {folder} (mounting needs root): "
                f"{(done.stderr or done.stdout).strip()}")
    return None


def _unmount(folder: Path) -> None:
    if subprocess.run(["umount", str(folder)], capture_output=True, timeout=30).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The embedded server of a root whose ``artifacts/`` is a TMPFS_SIZE tmpfs when it can be
    mounted; (workspace, folder, why not mounted or None)."""
    root = tmp_path_factory.mktemp("disk-full") / ".steprun"
    artifacts = root / "artifacts"
    artifacts.mkdir(parents=True, mode=0o700)
    root.chmod(0o700)
    not_mounted = _mount_tmpfs(artifacts)
    try:
        ws = Workspace.local(root)
        yield ws, artifacts, not_mounted
    finally:
        with contextlib.suppress(Exception):
            local_server.stop_server(root)
        if not_mounted is None:
            _unmount(artifacts)


@pytest.fixture
def disk(embedded):
    """Fills and frees the tmpfs; always freed at the end of the test."""
    _, folder, not_mounted = embedded
    if not_mounted:
        pytest.skip(not_mounted)
    filler = folder / "filler.bin"

    class Disk:
        def fill(self) -> None:
            chunk = b"\0" * 4096
            with open(filler, "ab", buffering=0) as f:
                try:
                    while True:
                        f.write(chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc

        def free(self) -> None:
            filler.unlink(missing_ok=True)

    yield Disk()
    filler.unlink(missing_ok=True)


@pytest.fixture
def experiment_on(embedded, experiment_name):
    exp = Experiment(embedded[0], experiment_name)
    yield exp
    stop_leftovers(exp)


def _pid_gone(pid_file: Path) -> bool:
    pid = int(pid_file.read_text())
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_disk_fills_while_three_steps_print_and_every_byte_lands_once_space_returns(
        experiment_on, disk, tmp_path, monkeypatch):
    # the three at once (the runner runs as many steps as there are cores, two on CI)
    monkeypatch.setattr(submit_module, "PipelinePlan",
                        functools.partial(plan_module.PipelinePlan, max_parallel=3))
    marks = tmp_path / "marks"
    marks.mkdir()
    names = ("prep", "train", "score")
    lines, first = 600, 100
    steps = [script_step(tmp_path, n, PRINTER.format(marks=str(marks), name=n, lines=lines, first=first))
             for n in names]
    run = submit(experiment_on, steps)
    wait_until(lambda: all((marks / f"{n}.waiting").exists() for n in names), 60, "the steps to print")
    disk.fill()
    (marks / "full").write_text("")
    # the scripts print the rest and exit: none blocks on its pipe although nothing can be written
    wait_until(lambda: all((marks / f"{n}.done").exists() for n in names), 60,
               "the scripts to print everything and exit while the disk is full")
    wait_until(lambda: all(_pid_gone(marks / f"{n}.pid") for n in names), 30, "the scripts to exit")
    steps_now = {s.name: s for s in run.get_steps()}
    for name in names:  # held bytes are not written yet: the step must not be Finished
        assert steps_now[name].get_status() == layout.RUNNING, (name, steps_now[name].get_status())
    disk.free()
    assert wait_terminal(run, timeout=90) == layout.FINISHED
    for name in names:
        step = run.find_step_run(name)[0]
        assert step.get_status() == layout.FINISHED
        text = step.get_stdout_log()
        expected = "".join(f"{name} line {i:04d} ✓ ünï €\n" for i in range(lines))
        assert text == expected, f"{name}: {len(text.splitlines())} of {lines} lines"
        assert "Script ended with exit code 0" in step.get_job_log()


def test_disk_stays_full_and_a_step_prints_more_than_is_held_fails_naming_the_file(
        experiment_on, disk, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    blocks = HOLD_LIMIT // 1024 + 1024  # 1 MiB more than the runner holds in memory
    flood = script_step(tmp_path, "flood", FLOOD.format(marks=str(marks), blocks=blocks))
    run = submit(experiment_on, [flood])
    wait_until(lambda: (marks / "flood.pid").exists(), 60, "the step to start")
    disk.fill()
    (marks / "full").write_text("")
    # the runner stops the script (it does not sleep its minute) once the log cannot be whole
    wait_until(lambda: _pid_gone(marks / "flood.pid"), 60, "the runner to stop the flooding step")
    disk.free()  # the job log's own lines, held meanwhile, can be written now
    assert wait_terminal(run, timeout=60) == layout.FAILED
    step = run.find_step_run("flood")[0]
    assert step.get_status() == layout.FAILED
    error = experiment_on.workspace.rest.get_run(step.id).tags.get(layout.TAG_ERROR, "")
    print("the step's error:", error)
    assert "No space left on device" in error and "stdout.txt" in error, error
    text = step.get_stdout_log()
    block = "x" * 1023 + "\n"
    # what was stored is a prefix of what was printed: nothing repeated, no hole
    assert len(text) < blocks * 1024 and text == block * (len(text) // 1024) + block[:len(text) % 1024]
    job = step.get_job_log()
    assert "Step failed: The log 'logs/stdout.txt'" in job and "No space left on device" in job, job


def test_submit_to_a_full_store_names_the_folder_and_creates_nothing(experiment_on, disk, tmp_path):
    disk.fill()
    step = script_step(tmp_path, "never", "print('never runs')\n")
    with pytest.raises(NoSpaceError) as caught:
        submit(experiment_on, [step])
    message = str(caught.value)
    folder = experiment_on.workspace.local_root / "artifacts"
    print("submit's error:", message)
    assert "No space left on device" in message and str(folder) in message, message
    found = experiment_on.workspace.rest.get_experiment_by_name(experiment_on.name)
    if found is not None:
        assert not experiment_on.workspace.rest.search_runs([str(found["experiment_id"])], "")


def test_output_upload_to_a_full_store_fails_saying_what_the_server_answered(embedded, disk, tmp_path,
                                                                             experiment_name):
    ws = embedded[0]
    creds = local_server.read_credentials(ws.local_root)
    # a remote client: the runner uploads logs and outputs over REST, the server writes to the full disk
    remote = Workspace(ws.tracking_uri, username=creds.username, password=creds.password)
    exp = Experiment(remote, experiment_name)
    try:
        out = PipelineData("data")
        disk.fill()
        run = submit(exp, [script_step(tmp_path, "writer", WITH_OUTPUT, outputs=(out,))])
        assert wait_terminal(run, timeout=120) == layout.FAILED
        step = run.find_step_run("writer")[0]
        error = remote.rest.get_run(step.id).tags.get(layout.TAG_ERROR, "")
        print("the step's error:", error)
        assert "HTTP 500" in error and "outputs/data" in error, error
    finally:
        disk.free()
        stop_leftovers(exp)


# Waits (bounded) for the test to kill its runner; it is killed with the runner (PDEATHSIG).
WAITER = """
import os, time
from pathlib import Path
Path({marks!r}, "waiter.pid").write_text(str(os.getpid()))
time.sleep(60)
"""


def test_step_users_of_a_killed_runner_are_deleted_by_the_next_runner(experiment_on, tmp_path):
    ws = experiment_on.workspace
    marks = tmp_path / "marks"
    marks.mkdir()
    run = submit(experiment_on, [script_step(tmp_path, "waiter", WAITER.format(marks=str(marks)))])
    wait_until(lambda: (marks / "waiter.pid").exists(), 60, "the step to start")
    step = run.find_step_run("waiter")[0]
    username = f"{USER_PREFIX}{step.id}"
    assert username in step_usernames(ws.local_root)
    # the step's password, as the step's own environment holds it
    env = psutil.Process(int((marks / "waiter.pid").read_text())).environ()
    password = env["MLFLOW_TRACKING_PASSWORD"]
    assert env["MLFLOW_TRACKING_USERNAME"] == username

    def signs_in() -> int:
        return requests.get(f"{ws.tracking_uri}/api/2.0/mlflow/experiments/search",
                            params={"max_results": 1}, auth=(username, password), timeout=30).status_code

    assert signs_in() == 200
    assert runner_processes(run.id)
    kill_runners(run.id)  # SIGKILL: it deletes nothing
    wait_until(lambda: _pid_gone(marks / "waiter.pid"), 30, "the step to die with its runner")
    assert username in step_usernames(ws.local_root) and signs_in() == 200, "left behind, still valid"

    after = submit(experiment_on, [script_step(tmp_path, "after", "print('the next pipeline')\n")])
    assert wait_terminal(after, timeout=120) == layout.FINISHED
    assert username not in step_usernames(ws.local_root)
    assert signs_in() == 401, "the killed step's password no longer signs in"
    cancel_pipeline(run, ack_timeout=0)  # its runner is dead: end its runs from here, at once
