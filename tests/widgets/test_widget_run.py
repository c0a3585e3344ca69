"""StepRunWidget follows a real run: status, times, logs, outputs, errors, reuse; no secret in state."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from steprun_widgets import Experiment
from steprun_widgets.core import layout
from tests.widgets.helpers import (
    drive,
    embedded_workspace,
    script_step,
    stop_leftovers,
    submit,
    watch_widget,
)

BLOCKER = """
import time
time.sleep(2.5)
"""

FOLLOWED = """
import os, sys, time
out = sys.argv[1]
for i in range(12):
    print(f"tick {i:02d} ünï ✓ " + "x" * (i * 7), flush=True)
    time.sleep(0.25)
sys.stdout.write("no newline at the end €")
print("a warning", file=sys.stderr)
with open(os.path.join(out, "model.txt"), "w") as f:
    f.write("weights\\n" * 100)
os.makedirs(os.path.join(out, "extra"))
with open(os.path.join(out, "extra", "notes.txt"), "w") as f:
    f.write("notes")
"""

#: Also run against the oldest supported MLflow server (scripts/test.sh, the server matrix).
pytestmark = pytest.mark.servers


def test_widget_follows_a_run_from_queued_to_finished(experiment, tmp_path):
    blocker = script_step(tmp_path, "blocker", BLOCKER)
    followed = script_step(tmp_path, "followed", FOLLOWED, outputs=("model",))
    # One worker: "followed" waits in Queued while "blocker" runs, whatever the number of cores.
    with ThreadPoolExecutor(max_workers=1) as executor:
        run = submit(experiment, [blocker, followed], executor=executor)
        step = run.find_step_run("followed")[0]
        widget, browser = watch_widget(step)
        assert widget.status == layout.QUEUED
        assert widget.start_time is None and widget.end_time is None
        assert widget.outputs == [{"name": "model", "size": None, "file_count": None, "is_dir": True}]
        first = dict(widget.logs)
        seen_status = [widget.status]
        seen_start = []
        widget.observe(lambda c: seen_status.append(c["new"]), names="status")
        widget.observe(lambda c: seen_start.append(c["new"]), names="start_time")

        drive([widget], timeout=60, interval=0.3)

    assert seen_status[0] == layout.QUEUED and seen_status[-1] == layout.FINISHED
    assert layout.RUNNING in seen_status
    assert seen_status == list(dict.fromkeys(seen_status)), seen_status  # never goes back
    assert seen_start and seen_start[0] is not None  # set when it started running
    assert widget.start_time and widget.end_time and widget.end_time >= widget.start_time
    assert widget.error == "" and widget.reuse == {} and widget.connection == "ok"
    assert widget.outputs == [{"name": "model", "size": 800 + 5, "file_count": 2, "is_dir": True}]

    stdout = step.get_stdout_log()
    assert stdout.endswith("no newline at the end €") and stdout.count("\n") == 12
    # Live text: the first tail (the trait) plus every later message, byte for byte.
    for stream, final in (("stdout", stdout), ("stderr", step.get_stderr_log()),
                          ("job", step.get_job_log())):
        start = first.get(stream, {"tail": "", "seq": 0, "first_line": 0})
        assert start["first_line"] == 0
        assert start["tail"] + browser.log_text(stream, after_seq=start["seq"]) == final, stream
        assert widget.logs[stream]["tail"] == final  # short log: the saved tail is all of it
        assert widget.logs[stream]["total_bytes"] == len(final.encode())
        assert widget.logs[stream]["seq"] == len(browser.of("log", stream=stream))
    assert "a warning" in widget.logs["stderr"]["tail"]
    assert "Output 'model': 2 file(s)" in widget.logs["job"]["tail"]
    assert len(browser.of("log", stream="stdout")) >= 3  # it streamed, not one final blob


def test_failing_step_shows_failed_and_the_reason(experiment, tmp_path):
    failing = script_step(tmp_path, "failing", """
        import sys
        print("about to fail")
        sys.exit("the data file is corrupt")
    """)
    run = submit(experiment, [failing])
    widget, _ = watch_widget(run.get_steps()[0])
    drive([widget], timeout=60)
    assert widget.status == layout.FAILED
    assert "exit code 1" in widget.error and "the data file is corrupt" in widget.error
    assert widget.end_time is not None
    assert widget.logs["stdout"]["tail"] == "about to fail\n"


def test_reused_step_names_the_original_run(experiment, tmp_path):
    step = script_step(tmp_path, "cached", """
        import os, sys
        print("computed once")
        open(os.path.join(sys.argv[1], "r.txt"), "w").write("42")
    """, outputs=("r",), allow_reuse=True)
    first = submit(experiment, [step])
    assert first.wait_for_completion(show_output=False, timeout_seconds=60) == layout.FINISHED
    original = first.get_steps()[0]

    second = submit(experiment, [step])
    assert second.wait_for_completion(show_output=False, timeout_seconds=60) == layout.FINISHED
    reused = second.get_steps()[0]
    assert reused.is_reused

    widget, _ = watch_widget(reused)
    assert widget.watch.final  # nothing left to poll
    assert widget.reuse == {"run_id": original.id, "node_id": original.node_id,
                            "pipeline_run_id": first.id}
    assert widget.run_id == original.id and widget.name == "cached"
    assert widget.status == layout.FINISHED
    assert widget.logs["stdout"]["tail"] == "computed once\n"
    assert widget.outputs == [{"name": "r", "size": 2, "file_count": 1, "is_dir": False}]


def test_token_never_enters_the_widget_state(mlflow_server, experiment_name, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    secret = "tok-SECRET-123"
    ws = embedded_workspace(mlflow_server, token=secret)
    experiment = Experiment(ws, experiment_name)
    try:
        run = submit(experiment, [script_step(tmp_path, "quiet", "print('hi')\n")])
        widget, browser = watch_widget(run.get_steps()[0])
        drive([widget], timeout=60)
        assert widget.status == layout.FINISHED
        widget._handle_message(widget, {"type": "sync"}, [])
        state = json.dumps(widget.get_state())
        assert secret not in state
        assert secret not in json.dumps(browser.messages)
        assert secret not in repr(widget._repr_mimebundle_())  # the display bundle neither
    finally:
        stop_leftovers(experiment)
        ws.transport.close()
