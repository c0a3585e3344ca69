"""Logs with hostile bytes: invalid UTF-8, NUL, ``\\r`` progress lines, a 10 MB line, ANSI cut in half.

Through the real runner (both ways of shipping logs) and written straight into a run's artifacts:
read back with ``get_stdout_log``, by ``wait_for_completion`` and by the widget's log messages, the
text equals a one-shot ``decode("utf-8", errors="replace")`` of the bytes: nothing lost or repeated,
invalid bytes become U+FFFD.
"""

from __future__ import annotations

import io

import pytest

from steprun_widgets import Experiment, PipelineRun, Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.waiting import wait_for_runs
from steprun_widgets.widgets.logtail import MAX_LINE_CHARS
from tests.reliability.helpers import (
    script_step,
    seen_text,
    stop_leftovers,
    submit,
    wait_terminal,
    watch_widget,
)
from tests.runlayout import RunLayout

# (bytes written, seconds to sleep after) — flushed one by one, so pieces land in different uploads.
PIECES: list[tuple[bytes, float]] = [
    (b"plain start\n", 0.0),
    (b"invalid \xff\xfe utf-8 \xc3\x28 and \xe2\x82 cut, overlong \xc0\xaf, surrogate \xed\xa0\x80\n", 0),
    (b"lone continuation \x80\xbf bytes\n", 0.0),
    (b"euro split across writes: \xe2\x82", 0.7),
    (b"\xac done\n", 0.0),
    (b"emoji split: \xf0\x9f", 0.7),
    (b"\x99\x82 done\n", 0.0),
    (b"nul\x00inside\x00twice\n", 0.0),
    (b"progress 10%\rprogress 50%\rprogress 100%\n", 0.0),
    (b"bare cr at the end\r", 0.0),
    (b"windows line\r\n", 0.0),
    (b"\x1b[3", 0.7),
    (b"1mRED split escape\x1b[0m\n", 0.0),
    (b"\x1b]8;;http://127.0.0.1:9/x\x1b\\osc link\x1b]8;;\x1b\\ and \x1b[38;5;196mcolour\x1b[0m\n", 0.0),
    (b"truncated at end \xe2\x82", 0.0),
]
RAW = b"".join(p for p, _ in PIECES)
HOSTILE = f"""
import sys, time
pieces = {PIECES!r}
for data, pause in pieces:
    sys.stdout.buffer.write(data); sys.stdout.flush()
    sys.stderr.buffer.write(data[::-1]); sys.stderr.flush()
    time.sleep(pause)
"""

BIG = 10_000_000
BIG_LINE = f"""
import sys
sys.stdout.buffer.write(b"before the big line\\n")
sys.stdout.buffer.write(b"\\xc3\\xa9" * {BIG // 2} + b"\\n")
sys.stdout.buffer.write(b"after the big line \\xe2\\x82\\xac\\n")
sys.stdout.flush()
"""


def _decoded(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


@pytest.fixture(params=["upload", "append"])
def shipping(request, mlflow_server, monkeypatch):
    """A workspace whose runner ships logs by re-uploading them (remote) or appending in place."""
    for name in ("MLFLOW_TRACKING_TOKEN", "STEPRUN_RUNNER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    ws = Workspace(mlflow_server.url)
    if request.param == "append":
        mlflow_server.artifacts.mkdir(exist_ok=True)
        ws.local_root = mlflow_server.folder
    yield ws
    ws.transport.close()


def test_hostile_bytes_through_the_runner_read_back_exactly(shipping, experiment_name, tmp_path):
    experiment = Experiment(shipping, experiment_name)
    try:
        run = submit(experiment, [script_step(tmp_path, "hostile", HOSTILE),
                                  script_step(tmp_path, "bigline", BIG_LINE)])
        hostile, bigline = (run.find_step_run(n)[0] for n in ("hostile", "bigline"))
        widget, browser = watch_widget(hostile)
        first = dict(widget.logs)
        big_widget, big_browser = watch_widget(bigline)
        out = io.StringIO()
        status = wait_for_runs(hostile, [hostile], True, 90, False, out=out, poll_seconds=0.3)
        assert status == layout.FINISHED
        assert wait_terminal(run) == layout.FINISHED
        widget.refresh()
        big_widget.refresh()
    finally:
        stop_leftovers(experiment)

    assert hostile.get_stdout_log() == _decoded(RAW)
    assert hostile.get_stderr_log() == _decoded(b"".join(p[::-1] for p, _ in PIECES))
    assert widget.watch.final
    for stream in ("stdout", "stderr"):
        final = hostile.get_stdout_log() if stream == "stdout" else hostile.get_stderr_log()
        assert seen_text(widget, browser, first, stream) == final, stream
        assert widget.logs[stream]["tail"] == final
        assert widget.logs[stream]["total_bytes"] == len(RAW)
    printed = out.getvalue()
    for line in _decoded(RAW).split("\n"):
        assert printed.count(line) >= 1, line
    assert printed.count("progress 10%\rprogress 50%\rprogress 100%") == 1
    assert printed.count("euro split across writes: € done") == 1
    assert "\ufffd" in printed and "nul\x00inside\x00twice" in printed

    big = bigline.get_stdout_log()
    assert big == "before the big line\n" + "é" * (BIG // 2) + "\nafter the big line €\n"
    assert big_widget.watch.final and big_widget.status == layout.FINISHED
    tail = big_widget.logs["stdout"]["tail"]
    assert big_widget.logs["stdout"]["total_bytes"] == len(big.encode())
    lines = tail.split("\n")
    assert lines[0] == "before the big line" and lines[2] == "after the big line €"
    assert lines[1].startswith("é" * MAX_LINE_CHARS) and "more characters]" in lines[1]
    assert len(tail) < MAX_LINE_CHARS + 200, "the saved tail stays bounded"
    sent = big_browser.of("log", stream="stdout") + big_browser.of("log_snapshot", stream="stdout")
    assert sent, "the browser heard about the big line"


def test_hostile_bytes_written_into_a_runs_artifacts(workspace, experiment_name):
    """The same bytes uploaded by another tool, growing in uneven steps, read by client and widget."""
    runs = RunLayout(workspace, experiment_name)
    pipeline = runs.pipeline(steps=["s"])
    record = runs.step(pipeline, "s")
    step = PipelineRun(Experiment(workspace, experiment_name), pipeline.run_id).get_steps()[0]
    widget, browser = watch_widget(step)
    first = dict(widget.logs)
    reader = step.log_reader("stdout")
    text = []
    for end in (1, 5, 33, 34, 70, 71, 72, 150, 151, len(RAW) - 2, len(RAW)):
        runs.log(record, "stdout", RAW[:end])
        workspace.rest.set_tag(record.run_id, layout.TAG_LOG_SIZES, layout.encode_log_sizes({"stdout": end}))
        text.append(reader.read_new().text)
        widget.refresh()
    runs.set_status(record, layout.FINISHED)
    text.append(reader.read_new(final=True).text)
    widget.refresh()
    assert "".join(text) == step.get_stdout_log() == _decoded(RAW)
    assert widget.watch.final
    assert seen_text(widget, browser, first, "stdout") == _decoded(RAW)
