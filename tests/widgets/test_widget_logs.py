"""Bounded log tails, earlier lines on request and snapshots, against a real 5,000-line log."""

from __future__ import annotations

import pytest

from steprun_widgets.core import layout
from steprun_widgets.widgets.logtail import INDEX_EVERY
from tests.widgets.helpers import drive, script_step, submit, watch_widget

LINES = 5000
#: Lines of different lengths with 1- to 4-byte characters, so byte offsets and line numbers differ.
PRINTER = f"""
import sys, time
for i in range({LINES}):
    print(f"line {{i:05d}} " + "é✓😀"[i % 3] * (i % 17), flush=(i % 500 == 0))
    if i % 1000 == 999:
        time.sleep(0.3)
print("bye", file=sys.stderr)
"""


@pytest.fixture(scope="module")
def long_log(mlflow_server, tmp_path_factory):
    """A finished step that printed 5,000 lines, and its stdout as the server has it."""
    from steprun_widgets import Experiment
    from tests.widgets.helpers import embedded_workspace, stop_leftovers

    ws = embedded_workspace(mlflow_server)
    experiment = Experiment(ws, f"widget-long-log-{tmp_path_factory.getbasetemp().name}")
    run = submit(experiment, [script_step(tmp_path_factory.mktemp("src"), "printer", PRINTER)])
    step = run.get_steps()[0]
    yield step, run
    stop_leftovers(experiment)
    ws.transport.close()


def test_tail_is_bounded_and_older_lines_come_from_the_log(long_log):
    step, _ = long_log
    widget, browser = watch_widget(step, tail_lines=100)
    drive([widget], timeout=90, interval=0.5)
    assert widget.status == layout.FINISHED

    stdout = step.get_stdout_log()
    lines = stdout.split("\n")
    assert len(lines) == LINES + 1 and lines[-1] == ""  # ends with a newline
    state = widget.logs["stdout"]
    tail = state["tail"].split("\n")
    assert tail[-1] == "" and len(tail) - 1 == 100 <= widget.tail_lines
    assert state["first_line"] == LINES - 100
    assert tail[:-1] == lines[LINES - 100:LINES]
    assert state["total_bytes"] == len(stdout.encode())
    assert widget.tail_lines == 100

    # Earlier lines on request, as the browser asks for them: from the tail's start backwards,
    # across index blocks, at the very start, and more than there is.
    requests = [(state["first_line"], 500), (state["first_line"] - 500, 2500), (INDEX_EVERY + 1, 3),
                (INDEX_EVERY, INDEX_EVERY), (10, 50), (3 * INDEX_EVERY + 7, 1)]
    for before_line, count in requests:
        widget._handle_message(widget, {"type": "older_lines", "stream": "stdout",
                                        "before_line": before_line, "count": count}, [])
        start = max(0, before_line - count)
        answer = browser.wait_for("older_lines", stream="stdout", start_line=start)
        assert answer["lines"] == lines[start:before_line], (before_line, count)
        browser.messages.remove(answer)
    # The whole log, in pieces, equals the log.
    got: list[str] = []
    before_line = state["first_line"]
    while before_line > 0:
        widget._handle_message(widget, {"type": "older_lines", "stream": "stdout",
                                        "before_line": before_line, "count": 1500}, [])
        answer = browser.wait_for("older_lines", stream="stdout", start_line=max(0, before_line - 1500))
        got[:0] = answer["lines"]
        before_line = answer["start_line"]
    assert got + tail[:-1] == lines[:-1]


def test_sync_answers_one_snapshot_per_stream_with_the_current_seq(long_log):
    step, _ = long_log
    widget, browser = watch_widget(step, tail_lines=50)
    drive([widget], timeout=90)
    before = len(browser.messages)
    widget._handle_message(widget, {"type": "sync"}, [])
    *snapshots, done = browser.messages[before:]
    # last: the view knows a kernel answers it, and (outside an ipykernel 7 kernel) that it does
    # so only between cells
    assert done == {"type": "sync_done", "serves_while_busy": False}
    assert sorted(m["stream"] for m in snapshots) == sorted(layout.LOG_NAMES)
    for m in snapshots:
        assert m["type"] == "log_snapshot"
        state = widget.logs[m["stream"]]
        assert m["seq"] == widget.watch.logs[m["stream"]].seq == state["seq"]
        assert m["tail"] == state["tail"] and m["first_line"] == state["first_line"]
    stdout = next(m for m in snapshots if m["stream"] == "stdout")
    assert stdout["first_line"] == LINES - 50
    assert stdout["tail"] == "".join(line + "\n" for line in step.get_stdout_log().split("\n")[-51:-1])
    assert next(m for m in snapshots if m["stream"] == "stderr")["tail"] == "bye\n"
