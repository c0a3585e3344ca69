"""The incremental LogReader against a real MLflow server (HTTP Range reads, answered with 206)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steprun_widgets import Workspace
from steprun_widgets.core import layout, logs
from steprun_widgets.core.logs import LogReader
from tests.runlayout import RunLayout

#: 1-, 2-, 3- and 4-byte UTF-8 characters, so that every kind of split happens.
TEXT = "a é € 😀 z\nñ中文🎉\n"
DATA = TEXT.encode("utf-8")
STDOUT = layout.LOG_FILES["stdout"]


@pytest.fixture
def step(runs):
    pipe = runs.pipeline(steps=["s"])
    return runs.step(pipe, "s")


def test_two_part_upload_split_at_every_byte_offset(runs, step):
    assert len(DATA) > len(TEXT)  # really multi-byte
    for cut in range(len(DATA) + 1):
        runs.rest.upload_artifact(step, STDOUT, DATA[:cut])
        reader = LogReader(runs.rest, step, STDOUT)
        first = reader.read_new()
        runs.rest.upload_artifact(step, STDOUT, DATA)
        second = reader.read_new()
        assert first.text + second.text == TEXT, f"split at byte {cut}"
        # The first read gives the whole characters before the cut and holds back the rest.
        assert first.text == DATA[:cut].decode("utf-8", errors="ignore"), f"split at byte {cut}"
        assert (first.new_bytes, second.new_bytes) == (cut, len(DATA) - cut)
        assert not first.reset and not second.reset
        assert reader.offset == reader.size == len(DATA)


def test_growing_byte_by_byte(runs, step):
    reader = LogReader(runs.rest, step, STDOUT)
    seen = []
    for end in range(1, len(DATA) + 1):
        runs.rest.upload_artifact(step, STDOUT, DATA[:end])
        chunk = reader.read_new()
        assert "\ufffd" not in chunk.text  # never half a character
        assert chunk.new_bytes == 1 and not chunk.reset
        seen.append(chunk.text)
        assert "".join(seen) == DATA[:end].decode("utf-8", errors="ignore")
    assert "".join(seen) == TEXT
    tail = reader.read_new(final=True)
    assert (tail.text, tail.new_bytes) == ("", 0)


def test_log_that_does_not_exist_yet_reads_empty(runs, step):
    reader = LogReader(runs.rest, step, STDOUT)
    for _ in range(2):
        chunk = reader.read_new()
        assert (chunk.text, chunk.new_bytes, chunk.reset) == ("", 0, False)
    assert reader.offset == 0
    runs.log(step, "stdout", "now it exists\n")
    assert reader.read_new().text == "now it exists\n"


def test_empty_log_then_growth(runs, step):
    runs.log(step, "stdout", b"")
    reader = LogReader(runs.rest, step, STDOUT)
    assert reader.read_new().text == ""
    runs.log(step, "stdout", "x\n")
    assert reader.read_new().text == "x\n"


def test_log_grows_between_reads(runs, step):
    reader = LogReader(runs.rest, step, STDOUT)
    content = ""
    for i in range(5):
        line = f"line {i} – ünïcødé\n"
        content += line
        runs.log(step, "stdout", content)
        chunk = reader.read_new()
        assert chunk.text == line
        assert chunk.new_bytes == len(line.encode())
        # Nothing new: nothing read, nothing repeated.
        assert reader.read_new().text == ""
    assert reader.offset == len(content.encode())


def test_log_replaced_by_shorter_file_starts_again_once(runs, step):
    reader = LogReader(runs.rest, step, STDOUT)
    runs.log(step, "stdout", "first run line 1\nfirst run line 2\n")
    assert reader.read_new().text == "first run line 1\nfirst run line 2\n"
    runs.log(step, "stdout", "again 1\n")
    chunk = reader.read_new()
    assert chunk.reset is True
    assert chunk.text == "again 1\n"
    assert reader.resets == 1
    again = reader.read_new()
    assert (again.reset, again.text) == (False, "")
    runs.log(step, "stdout", "again 1\nagain 2\n")
    chunk = reader.read_new()
    assert (chunk.reset, chunk.text) == (False, "again 2\n")
    assert reader.resets == 1


def test_log_replaced_by_empty_file(runs, step):
    reader = LogReader(runs.rest, step, STDOUT)
    runs.log(step, "stdout", "old\n")
    reader.read_new()
    runs.log(step, "stdout", b"")
    chunk = reader.read_new()
    assert (chunk.reset, chunk.text, reader.offset) == (True, "", 0)
    assert reader.read_new().reset is False


def test_backlog_larger_than_one_read_and_byte_budget(runs, step, monkeypatch):
    # A tiny read size makes one refresh take several Range requests, each cut mid-character.
    monkeypatch.setattr(logs, "MAX_READ", 3)
    runs.log(step, "stdout", DATA)
    reader = LogReader(runs.rest, step, STDOUT)
    before = runs.workspace.transport.request_count
    assert reader.read_new().text == TEXT
    assert runs.workspace.transport.request_count - before >= len(DATA) // 3

    budgeted = LogReader(runs.rest, step, STDOUT)
    parts = []
    while budgeted.offset < len(DATA):
        chunk = budgeted.read_new(max_bytes=5)
        assert chunk.new_bytes <= 5
        parts.append(chunk.text)
    assert "".join(parts) == TEXT


def test_truncated_character_at_the_very_end_is_flushed_on_final(runs, step):
    runs.log(step, "stdout", b"ok " + "€".encode()[:2])
    reader = LogReader(runs.rest, step, STDOUT)
    assert reader.read_new().text == "ok "
    assert reader.read_new(final=True).text == "\ufffd"


def test_reader_of_a_step_run(experiment, runs, step):
    from steprun_widgets import PipelineRun

    pipe_id = step.tags[layout.TAG_PIPELINE]
    step_run = PipelineRun(experiment, pipe_id).find_step_run("s")[0]
    reader = step_run.log_reader("stderr")
    runs.log(step, "stderr", "e1\n")
    assert reader.read_new().text == "e1\n"
    runs.log(step, "stderr", "e1\ne2\n")
    assert reader.read_new().text == "e2\n"
    with pytest.raises(Exception, match="no log named 'nope'"):
        step_run.log_reader("nope")


# --- property: any byte string, split at any offsets, reads back exactly ---------------------------
@pytest.fixture(scope="module")
def prop_run(tracking_uri):
    ws = Workspace(tracking_uri)
    layout_ = RunLayout(ws, f"logreader-property-{uuid.uuid4().hex[:8]}")
    pipe = layout_.pipeline(steps=["p"])
    yield layout_, layout_.step(pipe, "p")
    ws.transport.close()


_payloads = st.one_of(st.text(max_size=24).map(lambda t: t.encode("utf-8")), st.binary(max_size=40))


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_payloads, cuts=st.lists(st.integers(min_value=0, max_value=120), max_size=5))
def test_property_any_split_reads_back_exactly(prop_run, data, cuts):
    runs, run = prop_run
    path = f"{layout.LOGS_DIR}/prop-{uuid.uuid4().hex}.txt"
    reader = LogReader(runs.rest, run, path)
    texts, counted = [], 0
    for end in [*sorted({min(c, len(data)) for c in cuts}), len(data)]:
        runs.rest.upload_artifact(run, path, data[:end])
        chunk = reader.read_new()
        assert not chunk.reset
        texts.append(chunk.text)
        counted += chunk.new_bytes
    texts.append(reader.read_new(final=True).text)
    assert counted == reader.offset == len(data)  # every byte read once: none lost, none repeated
    assert "".join(texts) == data.decode("utf-8", errors="replace")
