"""wait_for_completion and cancel against a real server, with a thread playing the runner."""

from __future__ import annotations

import _thread
import threading
import time

import pytest

from steprun_widgets import PipelineRun
from steprun_widgets.core import layout
from steprun_widgets.errors import ActivityFailedException

#: Also run against the oldest supported MLflow server (scripts/test.sh, the server matrix).
pytestmark = pytest.mark.servers


class _Runner(threading.Thread):
    """Plays the runner in the background: each action after a pause, errors kept for the test."""

    def __init__(self, actions, pause: float = 1.3) -> None:
        super().__init__(daemon=True)
        self.actions = actions
        self.pause = pause
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for action in self.actions:
                time.sleep(self.pause)
                action()
        except BaseException as exc:  # pragma: no cover - reported by finish()
            self.error = exc

    def finish(self) -> None:
        self.join(30)
        if self.error is not None:
            raise self.error


def _step(experiment, pipe, name):
    return PipelineRun(experiment, pipe.run_id).find_step_run(name)[0]


def test_step_wait_streams_only_new_lines_and_status_changes(experiment, runs, capsys):
    pipe = runs.pipeline(steps=["train"])
    record = runs.step(pipe, "train")
    runs.log(record, "stdout", "line 1 é\nline 2 ")  # a partial line waits for its end
    step = _step(experiment, pipe, "train")
    runner = _Runner([
        lambda: runs.log(record, "stdout", "line 1 é\nline 2 done\nline 3 €\n"),
        lambda: runs.log(record, "stderr", "warn: careful\n"),
        lambda: (runs.log(record, "stdout", "line 1 é\nline 2 done\nline 3 €\nlast line"),
                 runs.set_status(record, layout.FINISHED)),
    ])
    runner.start()
    status = step.wait_for_completion()
    runner.finish()
    out, err = capsys.readouterr()

    assert status == layout.FINISHED
    assert f"StepRunId: {record.run_id}" in out
    assert out.count("StepRun(train) Status: Running") == 1
    assert out.count("StepRun(train) Status: Finished") == 1
    for line in ("line 1 é\n", "line 2 done\n", "line 3 €\n", "last line\n"):
        assert out.count(line) == 1, line  # each line once: only new lines are printed
    assert "line 2 \n" not in out  # the partial line was not printed before it was complete
    assert out.index("line 1 é") < out.index("line 2 done") < out.index("line 3 €") < out.index("last line")
    assert err.count("warn: careful\n") == 1
    assert "train: Finished" in out  # the summary


def test_step_wait_failed_raises_with_error_and_stderr_tail(experiment, runs, capsys):
    pipe = runs.pipeline(steps=["bad"])
    record = runs.step(pipe, "bad")
    noise = "".join(f"noise {i}\n" for i in range(400))
    runs.log(record, "stderr", noise + "Traceback (most recent call last):\nValueError: bad input\n")
    runs.fail(record, "exit code 1: ValueError: bad input")
    step = _step(experiment, pipe, "bad")

    with pytest.raises(ActivityFailedException) as info:
        step.wait_for_completion()
    exc = info.value
    assert exc.error == "exit code 1: ValueError: bad input"
    assert exc.run_id == record.run_id
    assert exc.stderr_tail.endswith("ValueError: bad input")
    assert "noise 0\n" not in exc.stderr_tail  # a tail, not the whole log
    message = str(exc)
    assert "exit code 1: ValueError: bad input" in message and "'bad'" in message
    assert "Last lines of stderr" in message and "Traceback (most recent call last):" in message
    assert "StepRun(bad) Status: Failed" in capsys.readouterr().out


def test_step_wait_failed_without_raising(experiment, runs, capsys):
    pipe = runs.pipeline(steps=["bad"])
    record = runs.fail(runs.step(pipe, "bad"), "exit code 2")
    step = _step(experiment, pipe, "bad")
    assert step.wait_for_completion(raise_on_error=False) == layout.FAILED
    assert step.wait_for_completion(show_output=False, raise_on_error=False) == layout.FAILED
    assert record.run_id in capsys.readouterr().out


def test_step_wait_times_out_and_returns_the_current_status(experiment, runs, capsys):
    pipe = runs.pipeline(steps=["slow"])
    record = runs.step(pipe, "slow")
    runs.log(record, "stdout", "working\n")
    step = _step(experiment, pipe, "slow")
    assert step.wait_for_completion(timeout_seconds=1) == layout.RUNNING
    out = capsys.readouterr().out
    assert "Timed out after 1 s" in out and record.run_id in out and "still Running" in out
    assert out.count("working\n") == 1
    assert step.get_status() == layout.RUNNING  # waiting changed nothing on the server


def test_step_wait_on_a_queued_step_times_out(experiment, runs, capsys):
    pipe = runs.pipeline(steps=["later"])
    runs.step(pipe, "later", status=layout.NOT_STARTED)
    step = _step(experiment, pipe, "later")
    assert step.wait_for_completion(show_output=False, timeout_seconds=0.5) == layout.NOT_STARTED
    assert "Timed out" in capsys.readouterr().out


def test_step_wait_on_a_run_whose_runner_is_gone(experiment, runs, capsys):
    pipe = runs.pipeline(steps=["orphan"])
    record = runs.step(pipe, "orphan")
    runs.heartbeat(record, age_seconds=layout.HEARTBEAT_STALE_AFTER + 60)
    step = _step(experiment, pipe, "orphan")
    assert step.wait_for_completion(timeout_seconds=30) == layout.NOT_RESPONDING
    assert "NotResponding" in capsys.readouterr().out


def test_step_wait_ctrl_c_says_the_run_goes_on(experiment, runs, capsys):
    pipe = runs.pipeline(steps=["long"])
    runs.step(pipe, "long")
    step = _step(experiment, pipe, "long")
    interrupter = _Runner([_thread.interrupt_main], pause=1.5)  # a real Ctrl-C, delivered to main
    interrupter.start()
    with pytest.raises(KeyboardInterrupt):
        step.wait_for_completion(timeout_seconds=60)
    interrupter.finish()
    out = capsys.readouterr().out
    assert "Ctrl-C" in out and "goes on on the server" in out and step.id in out
    assert step.get_status() == layout.RUNNING


def test_pipeline_wait_follows_every_step(experiment, runs, capsys):
    pipe = runs.pipeline(steps=["prep", "train"], edges=[("prep", "train")])
    prep = runs.step(pipe, "prep")
    train = runs.step(pipe, "train", status=layout.NOT_STARTED)
    runs.log(prep, "stdout", "prep working\n")
    runner = _Runner([
        lambda: (runs.log(prep, "stdout", "prep working\nprep done\n"),
                 runs.set_status(prep, layout.FINISHED), runs.set_status(train, layout.RUNNING)),
        lambda: runs.log(train, "stdout", "train epoch 1\n"),
        lambda: (runs.set_status(train, layout.FINISHED), runs.set_status(pipe, layout.FINISHED)),
    ])
    runner.start()
    status = PipelineRun(experiment, pipe.run_id).wait_for_completion()
    runner.finish()
    out = capsys.readouterr().out

    assert status == layout.FINISHED
    assert f"PipelineRunId: {pipe.run_id}" in out
    for line in ("StepRun(prep) Status: Running", "StepRun(prep) Status: Finished",
                 "StepRun(train) Status: NotStarted", "StepRun(train) Status: Running",
                 "StepRun(train) Status: Finished", "[prep] prep working", "[prep] prep done",
                 "[train] train epoch 1"):
        assert out.count(line) == 1, (line, out)
    assert "prep: Finished" in out and "train: Finished" in out  # summary with final statuses


def test_pipeline_wait_raises_naming_the_failed_step(experiment, runs):
    pipe = runs.pipeline(steps=["ok", "bad"])
    runs.step(pipe, "ok", status=layout.FINISHED)
    bad = runs.step(pipe, "bad")
    runs.log(bad, "stderr", "KeyError: 'x'\n")
    runs.fail(bad, "exit code 1: KeyError")
    runs.fail(pipe, "step bad failed")
    with pytest.raises(ActivityFailedException) as info:
        PipelineRun(experiment, pipe.run_id).wait_for_completion(show_output=False)
    assert info.value.run_id == bad.run_id
    assert info.value.error == "exit code 1: KeyError"
    assert "KeyError: 'x'" in info.value.stderr_tail


def test_cancel_without_a_runner_marks_what_is_left_canceled(experiment, runs):
    pipe = runs.pipeline(steps=["done", "running", "queued", "waiting"])
    runs.step(pipe, "done", status=layout.FINISHED)
    runs.step(pipe, "running", status=layout.RUNNING)
    runs.step(pipe, "queued", status=layout.QUEUED)
    runs.step(pipe, "waiting", status=layout.NOT_STARTED)
    pipeline_run = PipelineRun(experiment, pipe.run_id)

    pipeline_run.cancel()

    assert pipeline_run.get_status() == layout.CANCELED
    statuses = {s.name: s.get_status() for s in pipeline_run.get_steps()}
    assert statuses == {"done": layout.FINISHED, "running": layout.CANCELED,
                        "queued": layout.CANCELED, "waiting": layout.CANCELED}
    assert pipeline_run.get_details()["endTimeUtc"] is not None
    assert pipeline_run.get_tags()[layout.TAG_CANCEL_REQUESTED] == "true"
    pipeline_run.cancel()  # a second cancel is harmless
    assert pipeline_run.get_status() == layout.CANCELED


def test_cancel_of_a_finished_pipeline_changes_nothing(experiment, runs):
    pipe = runs.pipeline(steps=["s"], status=layout.FINISHED)
    runs.step(pipe, "s", status=layout.FINISHED)
    pipeline_run = PipelineRun(experiment, pipe.run_id)
    pipeline_run.cancel()
    assert pipeline_run.get_status() == layout.FINISHED
    assert layout.TAG_CANCEL_REQUESTED not in pipeline_run.get_tags()
