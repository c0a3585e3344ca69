"""Reading metrics: runs written by MLflow's own client, read through the REST reader.

The runs are what other tools make (``MlflowClient.log_metric`` with and without ``step``,
``log_batch``, ``log_param``, nested runs with the pipeline layout tags), on the session's real
server; the reader is checked against what was written, value for value. In the server matrix
(``-m servers``) the same tests run against MLflow 2.9, whose get-history ignores paging.
"""

from __future__ import annotations

import json
import math
import time

import mlflow
import pytest
from mlflow.entities import Metric, Param

from steprun_widgets import Experiment, PipelineRun, StepRun
from steprun_widgets.core import layout
from steprun_widgets.core.metrics import MetricReader, latest_points, parse_value, read_history
from steprun_widgets.core.runs import open_run
from steprun_widgets.errors import StepRunError
from tests.support import mlflow_client

#: Also run against the oldest supported server (MLflow 2.9: get-history does not page there).
pytestmark = pytest.mark.servers


@pytest.fixture
def client(tracking_uri) -> mlflow.MlflowClient:
    return mlflow_client(tracking_uri)


@pytest.fixture
def pipeline(client, experiment_name):
    """A pipeline run and one step run laid out by hand with MLflow's client (docs/run-layout.md)."""
    exp_id = client.create_experiment(experiment_name)
    parent = client.create_run(exp_id, tags={layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_PIPELINE})
    pid = parent.info.run_id
    step = client.create_run(exp_id, run_name="train", tags={
        layout.TAG_PARENT_RUN_ID: pid, layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_STEP,
        layout.TAG_NODE_ID: "n1", layout.TAG_PIPELINE: pid})
    return exp_id, pid, step.info.run_id


def batch(client, run_id, key, values, start_step=0, ts=None):
    ts = ts if ts is not None else int(time.time() * 1000)
    metrics = [Metric(key, v, ts + i, start_step + i) for i, v in enumerate(values)]
    for i in range(0, len(metrics), 1000):  # MLflow's log-batch limit
        client.log_batch(run_id, metrics=metrics[i:i + 1000])


def test_get_metrics_shapes_of_a_run_of_another_tool(client, workspace, pipeline):
    _, pid, sid = pipeline
    client.log_metric(sid, "accuracy", 0.93)                       # once, no step
    for v in (3.0, 2.0, 1.5):
        client.log_metric(sid, "loss_nostep", v)                 # several, no step: all step 0
    batch(client, sid, "loss", [1 / (i + 1) for i in range(30)])  # with steps
    client.log_param(sid, "lr", "0.01")
    client.log_batch(sid, params=[Param("epochs", "3")])
    step = open_run(workspace, sid)
    assert isinstance(step, StepRun)
    metrics = step.get_metrics()
    assert metrics["accuracy"] == 0.93
    assert metrics["loss_nostep"] == [3.0, 2.0, 1.5]  # same step: the order of logging (time)
    assert metrics["loss"] == [1 / (i + 1) for i in range(30)]
    assert step.get_metrics("accuracy") == {"accuracy": 0.93}
    with pytest.raises(StepRunError, match="no metric named 'nope'"):
        step.get_metrics("nope")
    assert step.get_details()["parameters"] == {"lr": "0.01", "epochs": "3"}
    pipeline_run = PipelineRun(step.experiment, pid)
    assert pipeline_run.get_metrics() == {sid: metrics}
    assert pipeline_run.get_metrics(recursive=False) == {}


def test_bad_values_and_names_read_back(client, workspace, pipeline):
    _, _, sid = pipeline
    # MLflow refuses non-ASCII metric names (alphanumerics, _ - . space / only; 3.x adds :), so unicode
    # reaches the reader only as values' surroundings, never as a name from the server.
    names = ["a/b", "with space", "c.d-e_f", "x" * 250]
    for name in names:
        client.log_metric(sid, name, 1.0, step=0)
        client.log_metric(sid, name, 2.0, step=1)
    client.log_metric(sid, "odd", math.nan, step=0)
    client.log_metric(sid, "odd", math.inf, step=1)
    client.log_metric(sid, "odd", -math.inf, step=2)
    client.log_metric(sid, "odd", 1e308, step=3)
    client.log_metric(sid, "back", 5.0, step=5)
    client.log_metric(sid, "back", 3.0, step=3)  # step going backwards: read in step order
    metrics = open_run(workspace, sid).get_metrics()
    for name in names:
        assert metrics[name] == [1.0, 2.0]
    odd = metrics["odd"]
    assert math.isnan(odd[0]) and odd[1] == math.inf and odd[2] == -math.inf and odd[3] == 1e308
    assert metrics["back"] == [3.0, 5.0]


def test_tables_lists_and_descriptions_from_the_layout_tags(client, workspace, pipeline):
    _, _, sid = pipeline
    batch(client, sid, layout.table_column_metric("scores", "f1"), [0.5, 0.6])
    batch(client, sid, layout.table_column_metric("scores", "auc"), [0.7, 0.8])
    client.log_metric(sid, "single", 4.0)
    client.set_tag(sid, layout.TAG_METRIC_TABLES, json.dumps({"scores": ["f1", "auc"]}))
    client.set_tag(sid, layout.TAG_METRIC_LISTS, json.dumps(["single"]))
    step = open_run(workspace, sid)
    metrics = step.get_metrics()
    assert metrics == {"scores": {"f1": [0.5, 0.6], "auc": [0.7, 0.8]}, "single": [4.0]}
    assert step.get_metrics("scores") == {"scores": {"f1": [0.5, 0.6], "auc": [0.7, 0.8]}}


def test_reader_reads_only_new_values_and_checks_the_seam(client, workspace, pipeline):
    _, _, sid = pipeline
    rest = workspace.rest
    reader = MetricReader(rest, sid, "loss")
    got = []

    def latest():
        return latest_points(rest.get_run(sid).metrics)["loss"]

    batch(client, sid, "loss", [float(i) for i in range(500)], ts=1_000_000)
    new, reset = reader.read_new(latest())
    assert not reset and [p[1] for p in new] == [float(i) for i in range(500)]
    got.extend(new)
    before = reader.requests
    batch(client, sid, "loss", [float(i) for i in range(500, 800)], start_step=500, ts=2_000_000)
    new, reset = reader.read_new(latest())
    assert not reset and [p[0] for p in new] == list(range(500, 800))
    assert reader.requests - before <= 2  # a predicted page, then the last value
    assert len(reader.since_token) <= 1  # it holds the one value the next read checks
    # A value with an older timestamp shifts the server's offsets: the reader starts again.
    client.log_batch(sid, metrics=[Metric("loss", -1.0, 5, 800)])
    new, reset = reader.read_new(latest())
    assert reset and len(new) == 801 and sorted(p[0] for p in new) == list(range(801))


def test_reader_of_values_without_step_and_a_long_history(client, workspace, pipeline):
    _, _, sid = pipeline
    batch(client, sid, "nostep", [float(i) for i in range(3000)], start_step=0, ts=10)
    client.log_batch(sid, metrics=[Metric("flat", float(i), 100 + i, 0) for i in range(1000)])
    reader = MetricReader(workspace.rest, sid, "flat")
    new, _ = reader.read_new(latest_points(workspace.rest.get_run(sid).metrics)["flat"])
    assert [p[1] for p in new] == [float(i) for i in range(1000)]  # step 0 each: by time
    client.log_batch(sid, metrics=[Metric("flat", float(i), 100 + i, 0) for i in range(1000, 1500)])
    new, reset = reader.read_new(latest_points(workspace.rest.get_run(sid).metrics)["flat"])
    assert not reset and [p[1] for p in new] == [float(i) for i in range(1000, 1500)]
    assert [p[1] for p in read_history(workspace.rest, sid, "nostep")] == [float(i) for i in range(3000)]


def test_parse_value_maps_what_mlflow_stores_for_infinity():
    assert parse_value("NaN") != parse_value("NaN")
    assert parse_value(1.7976931348623157e308) == math.inf
    assert parse_value(-1.7976931348623157e308) == -math.inf
    assert parse_value("Infinity") == math.inf and parse_value(1e308) == 1e308


def test_get_metrics_of_an_experiment_made_by_the_client_opened_by_name(client, workspace, pipeline,
                                                                          experiment_name):
    _, pid, sid = pipeline
    client.log_metric(sid, "m", 1.0)
    run = PipelineRun(Experiment(workspace, experiment_name), pid)
    assert run.get_steps()[0].get_metrics() == {"m": 1.0}
