"""Benchmark: downloading a 200 MiB output through the widget, memory and throughput.

The widget streams the output from the tracking server to the browser in chunks over its comm,
with at most a window of un-acknowledged bytes in flight. The browser is a recorder put in place
of ``widget.send`` that acknowledges each chunk at once and drops its bytes after counting them.

Measured in the kernel (this process): peak memory growth by ``tracemalloc`` (Python allocations)
and by RSS (sampled every 5 ms in a thread); throughput beside a direct HTTP download of the same
artifact with ``requests`` streaming to /dev/null, in the same run, as a ratio (both ways run
twice, alternately, and the best time of each counts: the machine is noisy).

The bar: kernel peak memory growth <= 64 MiB.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
import tracemalloc
import uuid

import psutil
import pytest
import requests

from steprun_widgets import Experiment, StepRunWidget
from steprun_widgets.core import layout
from steprun_widgets.local.logship import local_artifact_file
from steprun_widgets.widgets import downloads
from tests.bench.report import publish, table
from tests.widgets.helpers import embedded_workspace, script_step, stop_leftovers, submit

MIB = 1024 * 1024
SIZE = 200 * MIB
BAR = 64 * MIB
MAKER = """
import os, sys
with open(os.path.join(sys.argv[1], "data.bin"), "wb") as f:
    f.write(b"placeholder")
"""


class Browser:
    """Acknowledges every chunk at once; counts (and optionally hashes) the bytes, keeps none."""

    def __init__(self, widget: StepRunWidget, hash_bytes: bool = False) -> None:
        self.widget = widget
        self.received = 0
        self.chunks = 0
        self.hash = hashlib.sha256() if hash_bytes else None
        self.end: dict | None = None
        self.done = threading.Event()

    def __call__(self, content: dict, buffers=None) -> None:
        kind = content.get("type")
        if kind == "download_chunk":
            data = buffers[0]
            self.received += len(data)
            self.chunks += 1
            if self.hash is not None:
                self.hash.update(data)
            self.widget._downloads[content["request_id"]].ack(content["received"])
        elif kind in ("download_end", "download_error"):
            self.end = content
            self.done.set()


class PeakRss:
    """The highest RSS of this process while it runs (sampled in a thread)."""

    def __init__(self, every: float = 0.005) -> None:
        self.process = psutil.Process()
        self.every = every
        self.base = self.process.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.base


def widget_download(widget: StepRunWidget, request_id: str,
                    hash_bytes: bool = False) -> tuple[Browser, float]:
    browser = Browser(widget, hash_bytes)
    widget.send = browser
    started = time.perf_counter()
    widget._handle_message(widget, {"type": "download", "output": "big", "request_id": request_id}, [])
    assert browser.done.wait(300), "the download did not end"
    seconds = time.perf_counter() - started
    assert browser.end["type"] == "download_end", browser.end
    assert browser.received == browser.end["bytes"] == SIZE
    return browser, seconds


def direct_download(ws, endpoint: str, params: dict) -> float:
    """Seconds to stream the artifact over HTTP into /dev/null."""
    started = time.perf_counter()
    received = 0
    with requests.get(ws.transport.url(endpoint), params=params, stream=True, timeout=60) as response, \
            open(os.devnull, "wb") as sink:
        response.raise_for_status()
        for chunk in response.iter_content(MIB):
            sink.write(chunk)
            received += len(chunk)
    assert received == SIZE
    return time.perf_counter() - started


@pytest.mark.bench
def test_bench_widget_download(mlflow_server, tmp_path):
    ws = embedded_workspace(mlflow_server)
    experiment = Experiment(ws, f"bench-widget-download-{uuid.uuid4().hex[:8]}")
    try:
        run = submit(experiment, [script_step(tmp_path, "big", MAKER, outputs=("big",))])
        assert run.wait_for_completion(show_output=False, timeout_seconds=60) == layout.FINISHED
    finally:
        stop_leftovers(experiment)
    step = run.get_steps()[0]
    record = step._record(refresh=True)
    artifact = f"{layout.output_path('big')}/data.bin"
    # The 200 MiB file is written straight into the server's artifact folder, where the server
    # keeps the run's artifacts: uploading it through the REST API would only make the setup slow
    # (and a step writing 200 MiB first, then the runner uploading it, slower still).
    target = local_artifact_file(str(mlflow_server.artifacts), record, artifact)
    assert target is not None and target.is_file()
    expected = hashlib.sha256()
    rng = random.Random(2024)
    with open(target, "wb") as f:
        for _ in range(SIZE // MIB):
            block = rng.randbytes(MIB)
            expected.update(block)
            f.write(block)

    widget = StepRunWidget(step, poll=False)
    assert widget.outputs == [{"name": "big", "size": SIZE, "file_count": 1, "is_dir": False}]

    # Through the widget (RSS sampled) and directly over HTTP (streamed to /dev/null: the same
    # server, file and chunk size), alternately, twice each: the best time of each way counts.
    endpoint, params = ws.rest.artifact_request(record, artifact)
    widget_times, direct_times, rss_growth, chunks = [], [], 0, 0
    for round_ in range(2):
        with PeakRss() as rss:
            browser, seconds = widget_download(widget, f"rss{round_}")
        widget_times.append(seconds)
        rss_growth, chunks = max(rss_growth, rss.growth), browser.chunks
        direct_times.append(direct_download(ws, endpoint, params))
    widget_seconds, direct_seconds = min(widget_times), min(direct_times)

    # Through the widget once more under tracemalloc (which slows allocation: not timed), the
    # bytes hashed to check they are the artifact's.
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        checked, _ = widget_download(widget, "traced", hash_bytes=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    traced_growth = peak - base
    assert checked.hash.hexdigest() == expected.hexdigest()

    widget_rate, direct_rate = SIZE / widget_seconds / MIB, SIZE / direct_seconds / MIB
    rows = [
        ["through the widget (chunks acked)", f"{widget_seconds:.2f}", f"{widget_rate:.0f}",
         f"{rss_growth / MIB:.1f}", f"{traced_growth / MIB:.1f}", chunks],
        ["direct HTTP to /dev/null", f"{direct_seconds:.2f}", f"{direct_rate:.0f}", "", "", ""],
    ]
    lines = [
        f"Widget download: a {SIZE // MIB} MiB output, browser acking every chunk (real MLflow "
        f"{mlflow_server.url}; chunk {downloads.CHUNK // MIB} MiB, window {downloads.WINDOW // MIB} MiB; "
        f"best of 2 runs each way)",
        table(["way", "seconds", "MiB/s", "peak RSS growth MiB", "tracemalloc peak MiB", "chunks"], rows),
        f"widget / direct throughput: {widget_rate / direct_rate:.2f}",
        f"bar: kernel peak memory growth <= {BAR // MIB} MiB -> "
        f"{'met' if max(rss_growth, traced_growth) <= BAR else 'NOT met'} "
        f"(RSS {rss_growth / MIB:.1f} MiB, tracemalloc {traced_growth / MIB:.1f} MiB)",
    ]
    publish("widget_download", "\n".join(lines))
    ws.transport.close()

    assert traced_growth <= BAR
    assert rss_growth <= BAR
