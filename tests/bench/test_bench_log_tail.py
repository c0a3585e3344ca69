"""Benchmark: tailing a log that grows to 50 MiB in 1 MiB steps, read after every step.

The incremental LogReader (HTTP Range from its byte offset) is measured side by side with the naive
way (download the whole log at every read) in the same run, against the real session MLflow server.
Bytes are counted from the HTTP answers themselves (a response hook on each workspace's session),
and cross-checked against ``LogChunk.new_bytes``. The bar: incremental ≤ 1.05 × 50 MiB.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from steprun_widgets import Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.logs import LogReader
from tests.bench.report import publish, table
from tests.runlayout import RunLayout

MIB = 1024 * 1024
STEPS = 50
TOTAL = STEPS * MIB
BAR = 1.05


def _log_bytes() -> bytes:
    """50 MiB of log text with 1- to 4-byte characters, so most 1 MiB steps end mid-character."""
    line = "step {:06d}: loss=0.{:04d} ünïcødé ✓ € 中文 😀 ok\n"
    parts, size, i = [], 0, 0
    while size < TOTAL:
        piece = line.format(i, i % 10000).encode("utf-8")
        parts.append(piece)
        size += len(piece)
        i += 1
    return b"".join(parts)[:TOTAL]


class _Counter:
    """Counts HTTP answers and their body bytes on one requests session."""

    def __init__(self, workspace: Workspace) -> None:
        self.requests = 0
        self.body_bytes = 0
        workspace.transport.session.hooks["response"].append(self)

    def __call__(self, response, *args, **kwargs):
        self.requests += 1
        self.body_bytes += len(response.content)  # none of these reads is streamed
        return response


@pytest.mark.bench
def test_bench_log_tail(mlflow_server):
    setup = Workspace(mlflow_server.url)
    runs = RunLayout(setup, f"bench-log-tail-{uuid.uuid4().hex[:8]}")
    pipe = runs.pipeline(steps=["tail"])
    run = runs.step(pipe, "tail")
    log_path = layout.LOG_FILES["stdout"]
    # The log grows by appending straight into the server's artifact folder, as the local runner
    # writes live logs on the embedded server. Uploading the growing file through the REST API at
    # every step would send 1 + 2 + ... + 50 MiB (1.25 GiB) and make this a benchmark of uploads.
    assert run.artifact_uri.startswith("mlflow-artifacts:/")
    run_folder = mlflow_server.artifacts / run.artifact_uri.removeprefix("mlflow-artifacts:").strip("/")
    target = run_folder.joinpath(*log_path.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"")

    incremental_ws, naive_ws = Workspace(mlflow_server.url), Workspace(mlflow_server.url)
    incremental, naive = _Counter(incremental_ws), _Counter(naive_ws)
    reader = LogReader(incremental_ws.rest, run, log_path)
    endpoint, params = naive_ws.rest.artifact_request(run, log_path)
    data = _log_bytes()

    texts: list[str] = []
    new_bytes = 0
    naive_text = ""
    inc_seconds = naive_seconds = 0.0
    for step in range(STEPS):
        with Path(target).open("ab") as out:
            out.write(data[step * MIB:(step + 1) * MIB])
        t0 = time.perf_counter()
        chunk = reader.read_new(final=step == STEPS - 1)
        inc_seconds += time.perf_counter() - t0
        texts.append(chunk.text)
        new_bytes += chunk.new_bytes
        assert not chunk.reset

        t0 = time.perf_counter()
        whole = naive_ws.transport.request("GET", endpoint, params=params).content
        naive_text = whole.decode("utf-8", errors="replace")
        naive_seconds += time.perf_counter() - t0

    expected = data.decode("utf-8", errors="replace")
    assert "".join(texts) == expected  # nothing lost, nothing repeated, no character broken
    assert naive_text == expected
    assert new_bytes == TOTAL

    rows = []
    for way, counter, seconds in (("incremental (Range)", incremental, inc_seconds),
                                  ("naive (whole log)", naive, naive_seconds)):
        rows.append([way, f"{counter.body_bytes:,}", f"{counter.body_bytes / TOTAL:.3f}",
                     counter.requests, f"{seconds:.2f}"])
    text = "\n".join([
        f"Log tail: a log growing to {STEPS} MiB in 1 MiB steps, read after every step "
        f"({STEPS} reads, real MLflow {mlflow_server.url})",
        table(["way", "bytes downloaded", "ratio to 50 MiB", "requests", "seconds"], rows),
        f"naive / incremental: {naive.body_bytes / incremental.body_bytes:.1f}x bytes, "
        f"{naive_seconds / max(inc_seconds, 1e-9):.1f}x time",
        f"bar: incremental <= {BAR} x 50 MiB -> "
        f"{'met' if incremental.body_bytes <= BAR * TOTAL else 'NOT met'}",
    ])
    publish("log_tail", text)
    for ws in (setup, incremental_ws, naive_ws):
        ws.transport.close()

    assert incremental.body_bytes <= BAR * TOTAL  # a byte count, not a time
