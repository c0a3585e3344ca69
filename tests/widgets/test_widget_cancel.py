"""The widgets' Cancel, kernel side, on real runs: a step canceled from the pipeline's step pane,
the steps after it canceled before they started (no start time, so no elapsed time anywhere), the
pipeline Canceled; a second cancel says the run already ended; the pipeline's own Cancel."""

from __future__ import annotations

import time

from steprun_widgets import PipelineRunWidget, StepRunWidget
from steprun_widgets.core import layout
from steprun_widgets.local import PipelineData, PythonScriptStep
from steprun_widgets.widgets.poller import get_poller
from tests.widgets.helpers import Recorder, submit, wait_until, watch_widget, write_script

LONG = """
import sys, time
print("long: started", flush=True)
for i in range(600):
    time.sleep(0.1)
"""
SIDE = """
print("side: done", flush=True)
"""
AFTER = """
print("after: never", flush=True)
"""


def _pipeline(experiment, tmp_path):
    data = PipelineData("long_data")
    src = {name: write_script(tmp_path / name, f"{name}.py", code)
           for name, code in (("long", LONG), ("after", AFTER), ("side", SIDE))}
    steps = [
        PythonScriptStep("long.py", name="long", arguments=[data], outputs=[data],
                         source_directory=src["long"], allow_reuse=False),
        PythonScriptStep("after.py", name="after", arguments=[data], inputs=[data],
                         source_directory=src["after"], allow_reuse=False),
        PythonScriptStep("side.py", name="side", source_directory=src["side"], allow_reuse=False),
    ]
    return submit(experiment, steps)


def _poll_until(widget: PipelineRunWidget, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {widget.steps}"
        get_poller().tick([widget, *widget._panes.values()])
        time.sleep(0.3)


def test_cancel_a_step_from_the_pipeline_pane(experiment, tmp_path):
    run = _pipeline(experiment, tmp_path)
    widget = PipelineRunWidget(run, poll=False)
    browser = Recorder()
    widget.send = browser
    by_name = lambda: {s["name"]: s for s in widget.steps}  # noqa: E731
    _poll_until(widget, lambda: by_name()["long"]["status"] == layout.RUNNING, 60, "long Running")
    long_node = by_name()["long"]["node_id"]
    widget.selected = long_node
    pane = widget.selected_step
    assert pane is not None and pane.name == "long" and widget.pane["status"] == layout.RUNNING

    # the pane's view says cancel: routed by its node mark, answered with the same mark
    started = time.monotonic()
    widget._handle_message(widget, {"type": "cancel", "request_id": "c1", "pane": long_node}, [])
    assert browser.wait_for("cancel_started", 5, request_id="c1")["pane"] == long_node
    done = browser.wait_for("cancel_done", 30, request_id="c1")
    assert done["pane"] == long_node and done["status"] == layout.CANCELED
    assert time.monotonic() - started < 15

    _poll_until(widget, lambda: widget.status == layout.CANCELED, 60, "the pipeline Canceled")
    steps = by_name()
    assert steps["long"]["status"] == layout.CANCELED and steps["long"]["start_time"]
    assert steps["side"]["status"] == layout.FINISHED  # the other branch went on
    # the step after it never started: canceled, an end time, but no start (no "Canceled · 4s")
    after = steps["after"]
    assert after["status"] == layout.CANCELED and after["end_time"] and after["start_time"] is None
    assert after["queued_time"]  # it was queued: the timeline still has that
    assert widget.pane["status"] == layout.CANCELED
    after_widget = StepRunWidget(run.find_step_run("after")[0], poll=False)
    assert after_widget.status == layout.CANCELED and after_widget.start_time is None
    assert "after: never" not in after_widget.logs.get("stdout", {}).get("tail", "")
    widget.selected = after["node_id"]
    assert widget.pane["start_time"] is None and widget.pane["status"] == layout.CANCELED

    # a second cancel: the run already ended, said as text
    step_widget, step_browser = watch_widget(run.find_step_run("long")[0])
    step_widget._handle_message(step_widget, {"type": "cancel", "request_id": "c2"}, [])
    error = step_browser.wait_for("cancel_error", 15, request_id="c2")
    assert "already ended (Canceled)" in error["message"] and "nothing to cancel" in error["message"]
    for w in (widget, after_widget, step_widget):
        w.close()


def test_cancel_the_pipeline_from_its_widget(experiment, tmp_path):
    run = _pipeline(experiment, tmp_path)
    widget = PipelineRunWidget(run, poll=False)
    browser = Recorder()
    widget.send = browser
    widget._handle_message(widget, {"type": "sync"}, [])
    assert browser.wait_for("sync_done", 5)["type"] == "sync_done"  # the view is live
    _poll_until(widget, lambda: any(s["status"] == layout.RUNNING for s in widget.steps), 60,
                "a step Running")
    widget._handle_message(widget, {"type": "cancel", "request_id": "p1"}, [])
    browser.wait_for("cancel_started", 5, request_id="p1")
    done = browser.wait_for("cancel_done", 30, request_id="p1")
    assert "pane" not in done and done["status"] == layout.CANCELED
    _poll_until(widget, lambda: widget.watch.final, 60, "every step final")
    assert widget.status == layout.CANCELED
    statuses = {s["name"]: s["status"] for s in widget.steps}
    assert statuses["long"] == statuses["after"] == layout.CANCELED
    assert {s["name"]: s["start_time"] is None for s in widget.steps}["after"]
    widget._handle_message(widget, {"type": "cancel", "request_id": "p2"}, [])
    assert "already ended" in browser.wait_for("cancel_error", 15, request_id="p2")["message"]
    wait_until(lambda: run.get_status() == layout.CANCELED, 5, "the pipeline to stay Canceled")
    widget.close()
