"""Cancelling a pipeline or a step run: ask the runner, and make sure nothing is left Running."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from steprun_widgets.core import layout

if TYPE_CHECKING:
    from steprun_widgets.core.runs import PipelineRun, StepRun

#: The error a step or pipeline canceled by a user carries (its error tag, the widget's error line).
CANCELED_ERROR = "canceled by request"

#: How long cancel() waits for the runner to acknowledge before finishing the job itself.
RUNNER_ACK_TIMEOUT = 8.0


def _ask_runner(run: PipelineRun | StepRun, ack_timeout: float) -> bool:
    """Set ``run``'s cancel tag and wait for its runner to end it; True once it has ended.

    A run that has ended needs nothing; one without a live runner (not started, another tool's
    run, a runner that stopped beating) is not waited for: the caller ends it.
    """
    record = run._record(refresh=True)
    status = record.azureml_status()
    if layout.is_terminal(status):
        return True
    run._rest.set_tag(record.run_id, layout.TAG_CANCEL_REQUESTED, "true")
    runner_alive = status == layout.RUNNING and layout.parse_heartbeat(
        record.tags.get(layout.TAG_HEARTBEAT)) is not None
    deadline = time.monotonic() + (ack_timeout if runner_alive else 0)
    while time.monotonic() < deadline:
        if layout.is_terminal(run.get_status()):
            return True
        time.sleep(0.25)
    return False


def cancel_pipeline(pipeline: PipelineRun, ack_timeout: float = RUNNER_ACK_TIMEOUT) -> None:
    """Set the cancel tag, wait for the runner to mark the runs Canceled, else mark them here."""
    rest = pipeline.workspace.rest
    if _ask_runner(pipeline, ack_timeout):
        return
    # No runner (another tool's run, a dead runner) or no answer: finish the job from here.
    end = int(time.time() * 1000)
    for step in pipeline.step_records():
        if not layout.is_terminal(step.azureml_status()):
            rest.update_run(step.run_id, layout.MLFLOW_STATUS[layout.CANCELED], end)
    if not layout.is_terminal(pipeline.get_status()):
        rest.update_run(pipeline.id, layout.MLFLOW_STATUS[layout.CANCELED], end)


def cancel_step(step: StepRun, ack_timeout: float = RUNNER_ACK_TIMEOUT) -> None:
    """Set the step's cancel tag; a step that has not started is Canceled at once, a running one
    when its runner stops it (within about a second), else here once the runner does not answer.

    The runner then cancels the steps that needed this one's results, and the pipeline ends
    Canceled. A step reused from an earlier run has ended: nothing to do.
    """
    rest = step._rest
    if _ask_runner(step, ack_timeout):
        return
    # Not started yet (the runner skips a step with the tag), no runner, or no answer: end it here.
    if not layout.is_terminal(step.get_status()):
        rest.set_tag(step.id, layout.TAG_ERROR, CANCELED_ERROR)
        rest.update_run(step.id, layout.MLFLOW_STATUS[layout.CANCELED], int(time.time() * 1000))
