"""RunRecord.started_ms, the one rule for "did this run start" (no elapsed time when it did not).

A unit test of one function over hand-made records (the real runs are in
tests/widgets/test_widget_cancel.py): MLflow's start_time is when a run was queued.
"""

from __future__ import annotations

import pytest

from steprun_widgets.core import layout
from steprun_widgets.core.rest import RunRecord

QUEUED_AT, STARTED_AT, ENDED_AT = 1_000, 5_000, 9_000
STEP = {layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_STEP}


def record(status: str, tags: dict[str, str]) -> RunRecord:
    end = ENDED_AT if status in ("FINISHED", "FAILED", "KILLED") else None
    return RunRecord(run_id="r", experiment_id="1", status=status, start_time=QUEUED_AT, end_time=end,
                     artifact_uri="", tags=tags)


@pytest.mark.parametrize(("status", "tags", "started"), [
    ("RUNNING", {**STEP, layout.TAG_STARTED_AT: str(STARTED_AT)}, STARTED_AT),
    ("KILLED", {**STEP, layout.TAG_STARTED_AT: str(STARTED_AT)}, STARTED_AT),  # canceled while running
    ("KILLED", STEP, None),  # canceled before it started: "Canceled", not "Canceled · 8s"
    ("FAILED", STEP, None),  # upstream failed before it started
    ("SCHEDULED", STEP, None),
    ("SCHEDULED", {**STEP, layout.TAG_NOT_STARTED: "true"}, None),
    ("FINISHED", {**STEP, layout.TAG_REUSED_RUN_ID: "orig"}, QUEUED_AT),  # reused: created Finished
    ("RUNNING", {}, QUEUED_AT),  # another tool's run: MLflow's start is all there is
    ("SCHEDULED", {}, None),  # ... unless it is still queued
    ("FINISHED", {}, QUEUED_AT),
])
def test_started_ms(status, tags, started):
    assert record(status, tags).started_ms == started
