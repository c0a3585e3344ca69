"""Benchmark: what a 100,000-value metric adds to a saved notebook's widget state.

Two finished step runs written by MLflow's own client, the same but for one metric of 100,000
values (``log_batch``); a StepRunWidget of each; the saved state is what Jupyter writes into the
notebook for a widget model (its synced state, JSON with ``indent=1``). The naive way keeps every
value in the trait. The static snapshot (the companion ``text/html`` output, an SVG chart) is
shown beside it.

Bar: the metric adds at most 50 kB to the saved widget state.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from mlflow.entities import Metric

from steprun_widgets import Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.runs import open_run
from steprun_widgets.widgets.metrics_watch import encode_points
from tests.bench.report import publish, table
from tests.support import mlflow_client, watch_widget

VALUES = 100_000
BAR = 50_000


def saved_size(widget) -> int:
    """Bytes of the widget's model state as a notebook saves it (JSON, indent=1)."""
    state = {k: v for k, v in widget.get_state().items() if k not in ("_esm", "_css")}
    return len(json.dumps(state, indent=1, ensure_ascii=False).encode("utf-8"))


@pytest.mark.bench
def test_bench_saved_notebook_metric_size(tracking_uri):
    workspace = Workspace(tracking_uri)
    client = mlflow_client(tracking_uri)
    exp = client.create_experiment(f"bench-metrics-saved-{uuid.uuid4().hex[:8]}")
    pid = client.create_run(exp, tags={layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_PIPELINE}).info.run_id

    def step(with_metric: bool) -> str:
        sid = client.create_run(exp, run_name="train", tags={
            layout.TAG_PARENT_RUN_ID: pid, layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_STEP,
            layout.TAG_NODE_ID: "train", layout.TAG_PIPELINE: pid}).info.run_id
        client.log_param(sid, "lr", "0.01")
        if with_metric:
            ts = int(time.time() * 1000)
            for lo in range(0, VALUES, 1000):
                client.log_batch(sid, metrics=[Metric("loss", 2.0 / (1 + i / 500) + (i % 97) / 1e3,
                                                      ts + i, i) for i in range(lo, lo + 1000)])
        client.set_terminated(sid)
        return sid

    plain, logged = (watch_widget(open_run(workspace, step(flag)))[0] for flag in (False, True))
    assert plain.watch.final and logged.watch.final
    entry = logged.metrics["loss"]
    assert entry["count"] == VALUES and len(entry["points"]) <= 500
    added = saved_size(logged) - saved_size(plain)
    naive_state = dict(logged.get_state(), metrics={"loss": {
        **entry, "points": encode_points(logged.watch.metrics.series["loss"].points)}})
    naive_state = {k: v for k, v in naive_state.items() if k not in ("_esm", "_css")}
    naive_added = len(json.dumps(naive_state, indent=1).encode("utf-8")) - saved_size(plain)
    snapshot_added = len(logged.to_html().encode("utf-8")) - len(plain.to_html().encode("utf-8"))

    def kb(n: int) -> str:
        return f"{n / 1000:.1f} kB"

    rows = [
        ["widget state (trait: LTTB, <= 500 points)", kb(added), f"{added / BAR:.0%}"],
        ["naive: every value in the trait", kb(naive_added), f"{naive_added / BAR:.0%}"],
        ["static snapshot (companion text/html, SVG chart)", kb(snapshot_added), "-"],
    ]
    publish("metrics_saved", "\n".join([
        f"Saved notebook: what one metric of {VALUES:,} values adds to a StepRunWidget's saved state "
        f"(JSON indent=1, as Jupyter writes it; frontend code excluded); bar {kb(BAR)}",
        table(["what", "added", "of the bar"], rows),
        f"naive / widget = {naive_added / added:.0f}x; the trait keeps {len(entry['points'])} of "
        f"{entry['count']:,} points, the first and the last among them",
    ]))
    assert entry["points"][0][0] == 0 and entry["points"][-1][0] == VALUES - 1
    assert added <= BAR
