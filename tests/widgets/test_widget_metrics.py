"""StepRunWidget and PipelineRunWidget metrics: traits and messages of docs/widget-protocol.md.

The runs are written by MLflow's own client (as another tool, or a step using plain MLflow, would
write them) on the session's real server; the widget is real, its poller is ticked by hand, and
a Recorder stands in for the browser's end of the comm.
"""

from __future__ import annotations

import json
import math
import sqlite3
import struct
import time
import zlib

import mlflow
import pytest
from mlflow.entities import Metric

from steprun_widgets import PipelineRun, PipelineRunWidget
from steprun_widgets.core import layout
from steprun_widgets.core.runs import open_run
from steprun_widgets.widgets import metrics_watch
from steprun_widgets.widgets.poller import get_poller
from tests.support import mlflow_client
from tests.widgets.helpers import watch_widget


@pytest.fixture
def client(tracking_uri) -> mlflow.MlflowClient:
    return mlflow_client(tracking_uri)


def make_step(client, experiment_name, name="train"):
    exp_id = client.create_experiment(experiment_name)
    pid = client.create_run(exp_id, tags={layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_PIPELINE}).info.run_id
    sid = client.create_run(exp_id, run_name=name, tags={
        layout.TAG_PARENT_RUN_ID: pid, layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_STEP,
        layout.TAG_NODE_ID: name, layout.TAG_PIPELINE: pid}).info.run_id
    return exp_id, pid, sid


def log_range(client, run_id, key, start, stop, value=lambda i: 1.0 / (i + 1), ts0=None):
    ts0 = int(time.time() * 1000) if ts0 is None else ts0
    for lo in range(start, stop, 1000):
        client.log_batch(run_id, metrics=[Metric(key, value(i), ts0 + i, i)
                                          for i in range(lo, min(stop, lo + 1000))])


def png(width: int, height: int, noise: bool = False) -> bytes:
    """A valid PNG (grey, or random noise that does not compress)."""
    import os

    raw = b"".join(b"\x00" + (os.urandom(width) if noise else b"\x80" * width) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def history_requests(workspace, action) -> int:
    """How many metrics/get-history requests ``action`` sent through the widget's session."""
    seen = []
    session = workspace.transport.session
    original = session.request

    def counting(method, url, *args, **kwargs):
        if "/metrics/get-history" in url:
            seen.append(url)
        return original(method, url, *args, **kwargs)

    session.request = counting
    try:
        action()
    finally:
        session.request = original
    return len(seen)


@pytest.mark.servers  # also against MLflow 2.9, where get-history sends whole histories
def test_live_metrics_messages_trait_params_and_images(client, workspace, experiment_name, tmp_path):
    _, _, sid = make_step(client, experiment_name)
    client.log_param(sid, "lr", "0.01")
    client.log_metric(sid, "accuracy", 0.5)
    log_range(client, sid, "loss", 0, 10)
    small = tmp_path / "images"
    small.mkdir()
    (small / "confusion.png").write_bytes(png(8, 8))
    (small / "huge.png").write_bytes(png(700, 700, noise=True))
    client.log_artifact(sid, str(small / "confusion.png"), "images")
    client.log_artifact(sid, str(small / "huge.png"), "images")

    widget, browser = watch_widget(open_run(workspace, sid))
    assert widget.metrics["loss"]["count"] == 10 and widget.metrics["loss"]["seq"] == 1
    assert [p[0] for p in widget.metrics["loss"]["points"]] == list(range(10))
    assert widget.metrics["accuracy"]["points"][0][1] == 0.5 and widget.metrics["accuracy"]["count"] == 1
    assert widget.params == {"lr": "0.01"}
    images = {i["name"]: i for i in widget.images}
    assert images["confusion"]["src"].startswith("data:image/png;base64,")
    assert images["huge"]["src"] == "" and "too large to preview" in images["huge"]["note"]

    # Ticks where no metric moved make no history request.
    assert history_requests(workspace, lambda: get_poller().tick([widget])) == 0
    assert not browser.of("metric")

    log_range(client, sid, "loss", 10, 25)
    requests = history_requests(workspace, lambda: get_poller().tick([widget]))
    assert requests <= 2
    message = browser.wait_for("metric", name="loss")
    assert message["seq"] == 2 and [p[0] for p in message["points"]] == list(range(10, 25))
    assert history_requests(workspace, lambda: get_poller().tick([widget])) == 0

    # sync: a snapshot of each metric after the log snapshots, with the current seq.
    widget._handle_message(widget, {"type": "sync"}, [])
    snap = browser.wait_for("metric_snapshot", name="loss")
    assert snap["seq"] == 2 and snap["count"] == 25 and len(snap["points"]) == 25

    client.set_terminated(sid)
    get_poller().tick([widget])
    assert widget.watch.final and widget.metrics["loss"]["count"] == 25
    assert widget.metrics["loss"]["seq"] == 2
    html = widget.to_html()
    assert "<svg" in html and "<title>loss</title>" in html and "lr" in html and "accuracy" in html


@pytest.mark.servers
def test_bad_values_reach_the_browser_as_strings(client, workspace, experiment_name):
    _, _, sid = make_step(client, experiment_name)
    # MLflow allows only [A-Za-z0-9_\-. /] in names (3.x adds :); hostile text comes in params and tags.
    name = "a/b c.d"
    hostile = "<img src=x onerror=alert(1)>"
    for i, value in enumerate([1.0, math.nan, math.inf, -math.inf, 1e308, 2.0]):
        client.log_metric(sid, name, value, step=i)
    client.log_param(sid, "note", hostile)
    client.set_tag(sid, layout.TAG_METRIC_DESCRIPTIONS, json.dumps({name: hostile}))
    client.log_metric(sid, "back", 1.0, step=5)
    widget, browser = watch_widget(open_run(workspace, sid))
    assert widget.metrics[name]["description"] == hostile and widget.params["note"] == hostile
    values = [p[1] for p in widget.metrics[name]["points"]]
    assert values == [1.0, "NaN", "Infinity", "-Infinity", 1e308, 2.0]
    # A step going backwards and then a later one: the view gets the history in step order.
    client.log_metric(sid, "back", 2.0, step=3)
    client.log_metric(sid, "back", 3.0, step=9)
    get_poller().tick([widget])
    snap = browser.wait_for("metric_snapshot", name="back")
    assert [p[0] for p in snap["points"]] == [3, 5, 9]
    html = widget.to_html()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.slow  # among the ten slowest of core + local + widgets (CONTRIBUTING.md)
def test_ten_thousand_names_are_read_a_bounded_share_per_refresh(client, workspace, experiment_name):
    _, _, sid = make_step(client, experiment_name)
    names = [f"m{i:05d}" for i in range(10_000)]
    ts = int(time.time() * 1000)
    for lo in range(0, len(names), 1000):
        client.log_batch(sid, metrics=[Metric(n, float(lo), ts, 0) for n in names[lo:lo + 1000]])
    share = metrics_watch.HISTORY_READS_PER_REFRESH
    widget, _ = watch_widget(open_run(workspace, sid))
    assert len(widget.metrics) == share  # the first look reads a bounded share, not 10,000
    client.set_terminated(sid)
    assert history_requests(workspace, lambda: get_poller().tick([widget])) == share
    assert not widget.watch.final  # ended, but metrics are left to read: more refreshes come
    assert widget.watch.metrics.pending
    # Reading one metric of 10,000 reads that one history only.
    step = open_run(workspace, sid)
    assert history_requests(step.workspace, lambda: step.get_metrics("m09999")) == 1
    assert step.get_metrics("m09999") == {"m09999": 9000.0}


def write_straight_into_the_store(server, run_id, key, start, stop) -> None:
    """Values ``start..stop-1`` (step i, value i, timestamp i) written into the test server's own
    SQLite store, as its ``log-batch`` would write them: logging a million values over HTTP
    alone takes minutes on these machines. The server then serves them as usual."""
    with sqlite3.connect(server.folder / "mlflow.db", timeout=60) as db:
        db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                       "VALUES (?, ?, ?, ?, ?, 0)",
                       ((key, float(i), i, run_id, i) for i in range(start, stop)))
        last = stop - 1
        db.execute("INSERT OR REPLACE INTO latest_metrics (key, value, timestamp, step, is_nan, "
                   "run_uuid) VALUES (?, ?, ?, ?, 0, ?)", (key, float(last), last, last, run_id))


@pytest.mark.slow  # among the ten slowest of core + local + widgets (CONTRIBUTING.md)
@pytest.mark.timeout(900)  # the server takes seconds per deep page of a million values
def test_a_million_values_read_incrementally_with_bounded_kernel_memory(client, workspace, mlflow_server,
                                                                        experiment_name, monkeypatch):
    monkeypatch.setattr(metrics_watch, "METRIC_LIVE_POINTS", 20_000)
    _, _, sid = make_step(client, experiment_name)
    widget, browser = watch_widget(open_run(workspace, sid))
    total = 1_000_000
    chunk = 200_000
    for lo in range(0, total, chunk):
        write_straight_into_the_store(mlflow_server, sid, "loss", lo, lo + chunk)
        get_poller().tick([widget])
        series = widget.watch.metrics.series["loss"]
        assert series.count == lo + chunk
        assert len(series.points) <= metrics_watch.METRIC_LIVE_POINTS
        assert len(series.reader.since_token) <= 1
    assert widget.watch.metrics.series["loss"].points[-1] == (total - 1, float(total - 1), total - 1)
    seqs = [m["seq"] for m in browser.of("metric", name="loss") + browser.of("metric_snapshot", name="loss")]
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
    client.set_terminated(sid)
    get_poller().tick([widget])
    entry = widget.metrics["loss"]
    assert entry["count"] == total and len(entry["points"]) <= metrics_watch.METRIC_TRAIT_POINTS
    assert entry["points"][0][0] == 0 and entry["points"][-1][0] == total - 1


def test_pipeline_metrics_table(client, workspace, experiment_name):
    exp_id, pid, sid = make_step(client, experiment_name)
    other = client.create_run(exp_id, run_name="eval", tags={
        layout.TAG_PARENT_RUN_ID: pid, layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_STEP,
        layout.TAG_NODE_ID: "eval", layout.TAG_PIPELINE: pid}).info.run_id
    log_range(client, sid, "loss", 0, 5)
    client.log_metric(other, "accuracy", math.nan)
    client.log_metric(other, "loss", 0.25)
    run = PipelineRun(open_run(workspace, sid).experiment, pid)
    widget = PipelineRunWidget(run, poll=False)
    table = widget.metrics_table
    assert table["names"] == ["accuracy", "loss"]
    rows = {r["node_id"]: r for r in table["rows"]}
    assert rows["train"]["values"] == {"loss": 0.2} and rows["train"]["run_id"] == sid
    assert rows["eval"]["values"] == {"accuracy": "NaN", "loss": 0.25}
    html = widget.to_html()
    assert "Metrics (last values)" in html and "NaN" in html

