"""Benchmark: what a StepRunWidget reads while a step logs 100,000 values of one metric plus
20 metrics × 5,000 values, beside the naive reader, in the same run.

A writer process logs with MLflow's own client (``log_batch``, 1,000 values a request, the
server's limit) into a run laid out as a step; meanwhile the widget's poller ticks about once a
second, and the naive reader (``metrics/get-history`` of every metric, whole, every tick) reads
the same run on the same ticks. The writer pauses twice, so some ticks see no metric move.
Requests and response bytes are counted on each reader's own ``requests.Session``.

Bars: the bytes of history the widget read ≤ 1.2 × one full read of the final
histories; ticks where no metric moved make no history request. The widget's kernel history
must equal the final histories value for value.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from steprun_widgets import Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.metrics import parse_point, sort_key
from steprun_widgets.core.runs import open_run
from steprun_widgets.widgets.poller import get_poller
from tests.bench.report import publish, table
from tests.support import mlflow_client, watch_widget

BIG, SMALL, SMALL_VALUES = 100_000, 20, 5_000
BAR = 1.2

WRITER = textwrap.dedent("""
    import os, sys, time
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow
    from mlflow.entities import Metric
    uri, run_id, big, small, small_values = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    client = mlflow.MlflowClient(uri)
    rounds = 100
    per_big, per_small = big // rounds, small_values // rounds
    for r in range(rounds):
        if r in (40, 80):
            time.sleep(3.5)  # nothing moves for a few ticks
        ts = int(time.time() * 1000)
        metrics = [Metric("loss", 1.0 / (1 + i), ts, i) for i in range(r * per_big, (r + 1) * per_big)]
        for m in range(small):
            metrics += [Metric(f"metric_{m:02d}", m + i / small_values, ts, i)
                        for i in range(r * per_small, (r + 1) * per_small)]
        for lo in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[lo:lo + 1000])
        time.sleep(0.2)
    time.sleep(3.5)
    print("done", flush=True)
""")


class Counter:
    """Counts the requests and response bytes sent through one workspace's session."""

    def __init__(self, workspace: Workspace) -> None:
        self.requests = self.bytes = self.history_requests = self.history_bytes = 0
        session = workspace.transport.session
        original = session.request

        def counting(method, url, *args, **kwargs):
            response = original(method, url, *args, **kwargs)
            size = len(response.content)
            self.requests += 1
            self.bytes += size
            if "/metrics/get-history" in url:
                self.history_requests += 1
                self.history_bytes += size
            return response

        session.request = counting

    def mark(self) -> tuple[int, int, int, int]:
        return self.requests, self.bytes, self.history_requests, self.history_bytes


def full_read(workspace: Workspace, run_id: str, keys) -> dict:
    """Every metric's whole history, one unpaged get-history each (what the naive reader does)."""
    # A whole 100,000-value history is 12 MB of JSON: a loaded server takes longer than the
    # transport's usual 30 s to send it.
    return {k: workspace.transport.request("GET", "/api/2.0/mlflow/metrics/get-history",
                                           params={"run_id": run_id, "metric_key": k},
                                           timeout=(5.0, 300.0)).json()["metrics"]
            for k in keys}


@pytest.mark.bench
@pytest.mark.timeout(900)
def test_bench_metrics_read(mlflow_server, tmp_path):
    client = mlflow_client(mlflow_server.url)
    exp = client.create_experiment(f"bench-metrics-read-{uuid.uuid4().hex[:8]}")
    pid = client.create_run(exp, tags={layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_PIPELINE}).info.run_id
    sid = client.create_run(exp, run_name="train", tags={
        layout.TAG_PARENT_RUN_ID: pid, layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_STEP,
        layout.TAG_NODE_ID: "train", layout.TAG_PIPELINE: pid}).info.run_id
    keys = ["loss"] + [f"metric_{m:02d}" for m in range(SMALL)]

    widget_ws, naive_ws, check_ws = (Workspace(mlflow_server.url) for _ in range(3))
    widget_count, naive_count, check_count = Counter(widget_ws), Counter(naive_ws), Counter(check_ws)
    widget, _ = watch_widget(open_run(widget_ws, sid))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, mlflow_server.url, sid, str(BIG), str(SMALL),
                               str(SMALL_VALUES)], stdout=subprocess.PIPE, text=True)
    ticks = []
    began = time.monotonic()
    try:
        deadline = time.monotonic() + 600
        last_latest = None
        while True:
            assert time.monotonic() < deadline, "the writer did not finish"
            done = writer.poll() is not None
            if done:
                client.set_terminated(sid)
            started = time.monotonic()
            before = widget_count.mark()
            get_poller().tick([widget])
            after = widget_count.mark()
            latest = widget.watch.record.metrics
            moved = latest != last_latest
            last_latest = latest
            naive_before = naive_count.mark()
            full_read(naive_ws, sid, sorted(latest))
            naive_after = naive_count.mark()
            ticks.append({"moved": moved, "requests": after[0] - before[0], "bytes": after[1] - before[1],
                          "history_requests": after[2] - before[2], "history_bytes": after[3] - before[3],
                          "naive_requests": naive_after[2] - naive_before[2],
                          "naive_bytes": naive_after[3] - naive_before[3]})
            if done and widget.watch.final:
                break
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait(30)
    assert writer.returncode == 0
    spent = time.monotonic() - began

    final = full_read(check_ws, sid, keys)
    full_bytes, full_requests = check_count.history_bytes, check_count.history_requests
    for key in keys:  # the kernel holds every value, in step order
        expected = sorted((parse_point(m) for m in final[key]), key=sort_key)
        assert widget.watch.metrics.series[key].points == expected, key
    assert len(final["loss"]) == BIG and all(len(final[k]) == SMALL_VALUES for k in keys[1:])

    idle = [t for t in ticks if not t["moved"]]
    widget_history = sum(t["history_bytes"] for t in ticks)
    widget_requests = sum(t["history_requests"] for t in ticks)
    widget_all = sum(t["bytes"] for t in ticks)
    naive_bytes = sum(t["naive_bytes"] for t in ticks)
    naive_requests = sum(t["naive_requests"] for t in ticks)

    def mb(n: int) -> str:
        return f"{n / 1e6:.2f} MB"

    rows = [
        ["widget: history reads (get-history)", widget_requests, mb(widget_history),
         f"{widget_history / full_bytes:.3f}"],
        ["widget: everything (incl. the tick's runs/search)", sum(t["requests"] for t in ticks),
         mb(widget_all), f"{widget_all / full_bytes:.3f}"],
        ["naive: whole get-history of every metric every tick", naive_requests, mb(naive_bytes),
         f"{naive_bytes / full_bytes:.3f}"],
        ["one full read of the final histories", full_requests, mb(full_bytes), "1.000"],
    ]
    publish("metrics_read", "\n".join([
        f"Reading metrics while a writer process logs {BIG:,} values of one metric plus {SMALL} metrics x "
        f"{SMALL_VALUES:,} (MLflow client log_batch, real server {mlflow_server.url}); "
        f"{len(ticks)} poller ticks (at most one a second; {spent / len(ticks):.1f} s apart on average, "
        f"the naive reads included), {len(idle)} of them with no metric moved",
        table(["reader", "requests", "bytes", "bytes / full read"], rows),
        f"bar: widget history bytes <= {BAR} x full read: {widget_history / full_bytes:.3f}; "
        f"naive / widget = {naive_bytes / max(1, widget_history):.1f}x",
        f"ticks with no metric moved: {len(idle)}, history requests on them: "
        f"{sum(t['history_requests'] for t in idle)} (bar 0)",
        f"history requests per tick where metrics moved: max "
        f"{max(t['history_requests'] for t in ticks if t['moved'])} for {len(keys)} metrics",
    ]))
    for ws in (widget_ws, naive_ws, check_ws):
        ws.transport.close()
    assert idle, "the writer's pauses left no idle tick"
    assert all(t["history_requests"] == 0 for t in idle)
    assert widget_history <= BAR * full_bytes
