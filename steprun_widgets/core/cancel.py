"""Cancelling a pipeline run: ask its runner, and make sure nothing is left Running."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from steprun_widgets.core import layout

if TYPE_CHECKING:
    from steprun_widgets.core.runs import PipelineRun

#: How long cancel() waits for the runner to acknowledge before finishing the job itself.
RUNNER_ACK_TIMEOUT = 8.0


def cancel_pipeline(pipeline: PipelineRun, ack_timeout: float = RUNNER_ACK_TIMEOUT) -> None:
    """Set the cancel tag, wait for the runner to mark the runs Canceled, else mark them here."""
    rest = pipeline.workspace.rest
    record = pipeline._record(refresh=True)
    if layout.is_terminal(record.seed_status()):
        return
    rest.set_tag(pipeline.id, layout.TAG_CANCEL_REQUESTED, "true")
    runner_alive = record.seed_status() == layout.RUNNING and layout.parse_heartbeat(
        record.tags.get(layout.TAG_HEARTBEAT)) is not None
    deadline = time.monotonic() + (ack_timeout if runner_alive else 0)
    while time.monotonic() < deadline:
        if layout.is_terminal(pipeline.get_status()):
            return
        time.sleep(0.25)
    # No runner (another tool's run, a dead runner) or no answer: finish the job from here.
    end = int(time.time() * 1000)
    for step in pipeline.step_records():
        if not layout.is_terminal(step.seed_status()):
            rest.update_run(step.run_id, layout.MLFLOW_STATUS[layout.CANCELED], end)
    if not layout.is_terminal(pipeline.get_status()):
        rest.update_run(pipeline.id, layout.MLFLOW_STATUS[layout.CANCELED], end)
