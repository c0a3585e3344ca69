"""A tracking server stopped and restarted mid-run: "reconnecting", recovery, exact final log.

The test has a server of its own (the session's one must stay up for the other tests). The runner
ships its logs over REST (no ``local_root``: the way it works with a remote server), so it, too,
rides out the outage.
"""

from __future__ import annotations

import pytest

from steprun_widgets import Experiment, Workspace
from steprun_widgets.core import layout
from tests.mlflow_server import MlflowServer
from tests.widgets.helpers import script_step, stop_leftovers, submit, wait_until, watch_widget

STEADY = """
import sys, time
for i in range(175):
    print(f"beat {i:03d} ✓ " + "ß" * (i % 9), flush=True)
    if i % 40 == 0:
        print(f"note {i}", file=sys.stderr, flush=True)
    time.sleep(0.2)
"""


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-restart")).start()
    yield server
    server.stop()


@pytest.mark.slow  # among the ten slowest of core + local + widgets (CONTRIBUTING.md)
def test_server_restart_mid_run_reconnects_and_ends_byte_exact(own_server, tmp_path, experiment_name,
                                                               monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    ws = Workspace(own_server.url)
    experiment = Experiment(ws, experiment_name)
    try:
        run = submit(experiment, [script_step(tmp_path, "steady", STEADY)])
        step = run.get_steps()[0]
        widget, browser = watch_widget(step, register=True)
        first = dict(widget.logs)
        connection, statuses = [widget.connection], [widget.status]
        widget.observe(lambda c: connection.append(c["new"]), names="connection")
        widget.observe(lambda c: statuses.append(c["new"]), names="status")
        wait_until(lambda: widget.status == layout.RUNNING and widget.watch.logs["stdout"].total_bytes > 0,
                   30, "the step to run and print")

        own_server.stop()
        wait_until(lambda: widget.connection == "reconnecting", 20, '"reconnecting"')
        assert own_server.url in widget.connection_detail, widget.connection_detail
        assert widget.status == layout.RUNNING  # what it last knew
        own_server.start()

        wait_until(lambda: widget.connection == "ok", 60, "the widget to reconnect by itself")
        wait_until(lambda: widget.watch.final, 90, "the run to end")
    finally:
        stop_leftovers(experiment)

    assert widget.status == layout.FINISHED, (widget.status, widget.error)
    assert statuses[-1] == layout.FINISHED and layout.FAILED not in statuses
    assert connection[:3] == ["ok", "reconnecting", "ok"] and widget.connection == "ok"
    assert widget.connection_detail == "" and widget.error == ""
    for stream, final in (("stdout", step.get_stdout_log()), ("stderr", step.get_stderr_log())):
        start = first.get(stream, {"tail": "", "seq": 0})
        assert start["tail"] + browser.log_text(stream, after_seq=start["seq"]) == final, stream
        assert widget.logs[stream]["tail"] == final
    stdout = step.get_stdout_log()
    assert stdout.count("\n") == 175 and stdout.startswith("beat 000 ✓ \n")
    ws.transport.close()


def test_text_read_before_a_failed_request_still_reaches_the_browser(experiment, tmp_path):
    """A refresh that breaks half-way (the server went away between two requests) loses no text.

    The break is injected at the edge: one ranged read of the job log fails as a dead server's
    would, after the same refresh has read new stdout.
    """
    from steprun_widgets.errors import ServiceError

    run = submit(experiment, [script_step(tmp_path, "short", """
        for i in range(300):
            print(f"row {i} ✓")
    """)])
    step = run.get_steps()[0]
    widget, browser = watch_widget(step)
    first = dict(widget.logs)
    assert run.wait_for_completion(show_output=False, timeout_seconds=60) == layout.FINISHED

    rest = widget.watch.rest
    real = rest.read_range
    failures = []

    def read_range(run_record, path, start, length=None):
        if path == layout.LOG_FILES["job"] and not failures:
            failures.append(path)
            raise ServiceError(f"Cannot reach the tracking server at {rest.transport.display_url}")
        return real(run_record, path, start, length)

    rest.read_range = read_range
    try:
        widget.refresh()  # reads stdout, then fails on the job log
        assert failures and widget.connection == "reconnecting"
        assert not widget.watch.final
        widget.refresh()
    finally:
        del rest.read_range
    assert widget.connection == "ok" and widget.status == layout.FINISHED
    for stream, final in (("stdout", step.get_stdout_log()), ("job", step.get_job_log())):
        start = first.get(stream, {"tail": "", "seq": 0})
        assert start["tail"] + browser.log_text(stream, after_seq=start["seq"]) == final, stream


def test_a_step_view_the_server_cannot_open_says_why_then_opens(own_server, tmp_path, experiment_name,
                                                                 monkeypatch):
    """A click on a step while the server is away: the header says why (no exception on the comm
    thread, no pane stuck on "Opening…"); the next click opens it and the notice goes."""
    from steprun_widgets import PipelineRunWidget

    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    experiment = Experiment(Workspace(own_server.url), experiment_name)
    try:
        run = submit(experiment, [script_step(tmp_path, "quick", "print('quick')\n")])
        assert run.wait_for_completion(show_output=False, timeout_seconds=60) == layout.FINISHED
        widget = PipelineRunWidget(run, poll=False)
        node = next(iter(widget.watch.step_records))
        own_server.stop()
        widget.selected = node
        assert widget.pane == {} and widget.selected_step is None
        assert widget.connection == "reconnecting"
        assert f"Opening the view of step {node!r} failed" in widget.connection_detail
        own_server.start()
        widget.selected = ""
        widget.selected = node
        assert widget.pane["node_id"] == node and widget.selected_step.status == layout.FINISHED
        assert "quick" in widget.selected_step.logs["stdout"]["tail"]
        assert (widget.connection, widget.connection_detail) == ("ok", "")
        widget.close()
    finally:
        stop_leftovers(experiment)
