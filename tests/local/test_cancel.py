"""Cancel stops the step's process group; a killed runner leads to NotResponding, not Running forever."""

from __future__ import annotations

import os
import signal
import time

import pytest

from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep
from tests.local.helpers import alive, runner_processes, statuses, wait_until, write_script

#: A long step that starts a child (which ignores SIGTERM), writes both pids to a file, then waits.
LONG = """
import signal, subprocess, sys, time
from pathlib import Path

IGNORE_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
child = subprocess.Popen([sys.executable, "-c", IGNORE_TERM])
Path(sys.argv[1] + ".tmp").write_text(f"{__import__('os').getpid()} {child.pid}")
Path(sys.argv[1] + ".tmp").rename(sys.argv[1])
print("running until stopped", flush=True)
deadline = time.time() + 120
while time.time() < deadline and not (len(sys.argv) > 2 and Path(sys.argv[2]).exists()):
    time.sleep(0.05)
print("released", flush=True)
"""


@pytest.fixture
def sink() -> str:
    return "append"


def read_pids(path) -> list[int]:
    text = wait_until(lambda: path.exists() and path.read_text(), 30, "the step's pids")
    return [int(p) for p in text.split()]


def test_cancel_stops_the_step_and_its_children(experiment, tmp_path):
    src = write_script(tmp_path / "src", "long.py", LONG)
    after = write_script(tmp_path / "after", "after.py", "print('never')\n")
    pid_file = tmp_path / "pids"
    data = PipelineData("long_data")
    pipeline = Pipeline(experiment.workspace, [
        PythonScriptStep("long.py", name="long", arguments=[str(pid_file), str(tmp_path / "never"), data],
                         outputs=[data], source_directory=src),
        PythonScriptStep("after.py", name="waiting", arguments=[data], inputs=[data], source_directory=after),
    ])
    run = experiment.submit(pipeline)
    pids = read_pids(pid_file)
    assert all(alive(pid) for pid in pids)
    step = run.find_step_run("long")[0]
    wait_until(lambda: "running until stopped" in step.get_stdout_log(), 30, "the step to print")

    started = time.monotonic()
    run.cancel()
    wait_until(lambda: run.get_status() == layout.CANCELED and step.get_status() == layout.CANCELED, 5,
               "the pipeline and the step to be Canceled")
    wait_until(lambda: not any(alive(pid) for pid in pids), max(0.1, 5 - (time.monotonic() - started)),
               f"the step's processes {pids} to be gone")
    took = time.monotonic() - started
    assert took <= 5, f"cancel took {took:.1f} s"
    assert statuses(run) == {"long": layout.CANCELED, "waiting": layout.CANCELED}
    assert "cancel" in step.get_tags()[layout.TAG_ERROR]
    assert "canceled" in step.get_job_log()
    wait_until(lambda: not runner_processes(run.id), 10, "the runner to exit")
    run.cancel()  # a second cancel of a finished pipeline is a no-op
    assert run.get_status() == layout.CANCELED


@pytest.mark.slow
def test_killed_runner_means_not_responding_then_resubmit_works(experiment, tmp_path):
    src = write_script(tmp_path / "src", "long.py", LONG)
    pid_file, release = tmp_path / "pids", tmp_path / "release"

    def pipeline():
        return Pipeline(experiment.workspace, [PythonScriptStep(
            "long.py", name="long", arguments=[str(pid_file), str(release)], source_directory=src)])

    run = experiment.submit(pipeline())
    pids = read_pids(pid_file)
    step = run.find_step_run("long")[0]
    wait_until(lambda: step.get_status() == layout.RUNNING, 30, "the step to run")
    runners = wait_until(lambda: runner_processes(run.id), 10, "the runner process")
    assert len(runners) == 1

    os.kill(runners[0].pid, signal.SIGKILL)  # only the runner this test started
    killed = time.monotonic()
    runners[0].wait(10)
    # the step's process dies with the runner (no orphan keeps computing)
    wait_until(lambda: not alive(pids[0]), 10, "the step process to die with its runner")
    # the step's and the pipeline's heartbeats go stale on their own clocks (a few seconds apart)
    wait_until(lambda: step.get_status() == layout.NOT_RESPONDING == run.get_status(), 35,
               "the step and the pipeline to be NotResponding", interval=0.5)
    assert time.monotonic() - killed <= 30
    assert run.wait_for_completion(show_output=False, timeout_seconds=5) == layout.NOT_RESPONDING
    for pid in pids[1:]:  # the step's own child was in its process group: clean it up if left
        if alive(pid):
            os.kill(pid, signal.SIGKILL)

    # cancel marks what the dead runner left, and a resubmission runs the step again
    run.cancel()
    assert run.get_status() == layout.CANCELED
    assert step.get_status() == layout.CANCELED
    release.touch()
    pid_file.unlink()
    again = experiment.submit(pipeline())
    assert again.wait_for_completion(show_output=False, timeout_seconds=60) == layout.FINISHED
    new_step = again.find_step_run("long")[0]
    assert not new_step._is_reused and new_step.id != step.id
    assert new_step.get_stdout_log() == "running until stopped\nreleased\n"


def test_processes_left_holding_the_output_do_not_keep_the_step_running(experiment, tmp_path):
    src = write_script(tmp_path / "src", "leaves.py", """
        import subprocess, sys
        from pathlib import Path
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        Path(sys.argv[1]).write_text(str(child.pid))
        print("main part done", flush=True)
    """)
    pid_file = tmp_path / "pid"
    run = experiment.submit(Pipeline(experiment.workspace, [
        PythonScriptStep("leaves.py", name="leaves", arguments=[str(pid_file)], source_directory=src)]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=30) == layout.FINISHED
    step = run.find_step_run("leaves")[0]
    assert step.get_stdout_log() == "main part done\n"
    assert "left processes running" in step.get_job_log()
    child = int(pid_file.read_text())
    wait_until(lambda: not alive(child), 5, "the leftover child to be gone")


@pytest.mark.parametrize("how", ["cancel()", "tag only"])
def test_cancel_a_step_before_it_starts(experiment, tmp_path, how):
    """StepRun.cancel() on a waiting step: Canceled at once, never run, no start time; the pipeline
    ends Canceled (a result it was to make is missing) once the rest is done.

    "tag only": a client set the cancel tag and stopped before it ended the run; the runner ends
    it when the step's turn comes (it used to skip it and leave it waiting for good)."""
    src = write_script(tmp_path / "src", "first.py",
                       "import time\nprint('first', flush=True)\ntime.sleep(3)\n")
    after = write_script(tmp_path / "after", "after.py", "print('after ran')\n")
    data = PipelineData("first_data")
    pipeline = Pipeline(experiment.workspace, [
        PythonScriptStep("first.py", name="first", arguments=[data], outputs=[data], source_directory=src),
        PythonScriptStep("after.py", name="after", arguments=[data], inputs=[data], source_directory=after),
    ])
    run = experiment.submit(pipeline)
    waiting = run.find_step_run("after")[0]
    assert waiting.get_status() in (layout.NOT_STARTED, layout.QUEUED)
    started = time.monotonic()
    if how == "cancel()":
        waiting.cancel()
        assert time.monotonic() - started < 5, "a step that has not started is canceled at once"
        assert waiting.get_status() == layout.CANCELED
    else:
        experiment.workspace.rest.set_tag(waiting.id, layout.TAG_CANCEL_REQUESTED, "true")
    wait_until(lambda: layout.is_terminal(run.get_status()), 60, "the pipeline to end")
    assert statuses(run) == {"first": layout.FINISHED, "after": layout.CANCELED}
    assert run.get_status() == layout.CANCELED
    assert "after" in run.get_tags()[layout.TAG_ERROR]
    record = waiting._record(refresh=True)
    assert record.started_ms is None and record.end_time
    assert "after ran" not in waiting.get_stdout_log()
    waiting.cancel()  # an ended step: nothing happens
    assert waiting.get_status() == layout.CANCELED
