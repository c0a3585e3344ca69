"""Property-based tests (hypothesis): the incremental log reader, and the path safety of downloads.

The log reader runs against the real tracking server: the log grows by uploads of ever longer
prefixes of a random byte stream, split at random offsets, and is read after each; what it decodes
must equal a one-shot ``decode("utf-8", errors="replace")`` of the whole stream, whatever the bytes
(invalid UTF-8, characters cut by a split, NUL, ``\\r``) and even when reads fail half-way.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steprun_widgets.core import layout, logs
from steprun_widgets.core.logs import LogReader
from steprun_widgets.core.outputs import relative_output_path, safe_target
from steprun_widgets.errors import ServiceError, StepRunError
from tests.runlayout import RunLayout

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PATH_SETTINGS = settings(SETTINGS, max_examples=300)

# Bytes that stress a UTF-8 decoder: multi-byte characters, their pieces, invalid and NUL bytes.
PIECES = [b"a", b"\n", b"\r", b"\x00", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x99\x82", b"\xc3",
          b"\xe2\x82", b"\xf0\x9f", b"\x80", b"\xbf", b"\xff", b"\xfe", b"\xc0\xaf", b"\xed\xa0\x80",
          b"\x1b[31m", b"\x1b["]
streams = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=12)), max_size=40).map(b"".join)


@pytest.fixture(scope="module")
def log_run(mlflow_server):
    from steprun_widgets import Workspace

    ws = Workspace(mlflow_server.url)
    runs = RunLayout(ws, "reliability-properties")
    pipeline = runs.pipeline(steps=["s"])
    step = runs.step(pipeline, "s")
    yield ws, runs, step
    ws.transport.close()


def _splits(data: bytes, cuts: list[int]) -> list[int]:
    points = sorted({min(c, len(data)) for c in cuts} | {len(data)})
    return [p for p in points if p > 0] or [0]


class FlakyRest:
    """Wraps MlflowRest: the read_range calls whose number is in ``fail_on`` raise like a dead server."""

    def __init__(self, rest, fail_on: set[int]) -> None:
        self._rest = rest
        self.fail_on = fail_on
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._rest, name)

    def read_range(self, *args, **kwargs):
        self.calls += 1
        if self.calls in self.fail_on:
            raise ServiceError("Cannot reach the tracking server at http://127.0.0.1:1 (injected)")
        return self._rest.read_range(*args, **kwargs)


@SETTINGS
@given(data=streams, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
       budgets=st.lists(st.one_of(st.none(), st.integers(min_value=1, max_value=9)), min_size=1, max_size=4),
       max_read=st.sampled_from([3, 7, 64, logs.MAX_READ]),
       fail_on=st.sets(st.integers(min_value=1, max_value=30), max_size=5))
def test_incremental_reader_reads_back_any_stream_byte_exact(log_run, data, cuts, budgets, max_read, fail_on):
    ws, runs, step = log_run
    path = layout.LOG_FILES["stdout"]
    flaky = FlakyRest(ws.rest, fail_on)
    reader = LogReader(flaky, step, path)
    texts: list[str] = []

    def read(final: bool = False, budget: int | None = None) -> None:
        for _attempt in range(len(fail_on) + 2):  # a failed read is simply tried again later
            try:
                chunk = reader.read_new(budget, final=final)
            except ServiceError:
                continue
            assert not chunk.reset
            texts.append(chunk.text)
            return
        raise AssertionError("reads kept failing")

    with mock.patch.object(logs, "MAX_READ", max_read):
        calls = 0
        for end in _splits(data, cuts):
            runs.log(step, "stdout", data[:end])
            for _ in range(2):
                read(budget=budgets[calls % len(budgets)])
                calls += 1
        while reader.offset < len(data):  # what small budgets left behind
            read()
        read(final=True)
    assert "".join(texts) == data.decode("utf-8", errors="replace")
    assert reader.offset == len(data)


# --- path safety of downloads -------------------------------------------------------------------------
names = st.lists(st.sampled_from([*"ab./\\:~ \x00-_é名", "..", "escape", "C:", "/.."]),
                 max_size=10).map("".join) | st.text(max_size=12)


@pytest.fixture(scope="module")
def download_root():
    """A destination folder holding a symlink that points outside it (``escape``)."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "outside").mkdir()
        root = base / "dest" / "out"
        root.mkdir(parents=True)
        os.symlink(base / "outside", root / "escape")
        yield root


@PATH_SETTINGS
@given(output=names, rel=names, prefix=st.booleans())
def test_a_download_target_is_refused_or_inside_the_destination(download_root, output, rel, prefix):
    artifact = f"{layout.output_path(output)}/{rel}" if prefix else rel
    try:
        inner = relative_output_path(output, artifact)
        target = safe_target(download_root, inner, output)
    except StepRunError as exc:
        assert repr(output) in str(exc)
        return
    assert isinstance(inner, PurePosixPath) and not inner.is_absolute() and ".." not in inner.parts
    resolved_root = download_root.resolve()
    assert target.resolve().is_relative_to(resolved_root), (output, artifact, target)
    assert target != download_root and resolved_root != target.resolve()
