"""Metrics logged with Run.get_context() reach the server exactly once across a server restart.

The tracking server is SIGKILLed while the runner ships a backlog (a log-batch in flight is lost
half-way: applied or not, its answer never comes) and started again on the same store; the
runner's retried requests and replays must leave every value once, in order.
"""

from __future__ import annotations

import time

import pytest

from steprun_widgets import Experiment, Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import PythonScriptStep
from steprun_widgets.local.channel import ChannelWriter, encode
from steprun_widgets.local.metricship import MetricShipper
from tests.metrics_rest import history, latest
from tests.mlflow_server import MlflowServer
from tests.reliability.helpers import (
    kill_server,
    stop_leftovers,
    submit,
    wait_terminal,
    wait_until,
    write_script,
)

PACED = r'''
import sys, time
from pathlib import Path
from steprun_widgets import Run

run = Run.get_context()
gate, total = Path(sys.argv[1]), Path(sys.argv[2])
i = 0
for _ in range(3000):                  # a backlog of three batches at once
    run.log("loss", i * 0.5); i += 1
deadline = time.monotonic() + 120
while not gate.exists() and time.monotonic() < deadline:
    for _ in range(100):
        run.log("loss", i * 0.5); i += 1
    time.sleep(0.2)                    # slower than the server ingests: the backlog drains
for _ in range(1000):
    run.log("loss", i * 0.5); i += 1
total.write_text(str(i))
'''


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """A tracking server of this module's own, to kill and restart."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-metrics-killed"))
    server.start()
    yield server
    if server.proc is not None:
        server.stop()


def test_every_value_once_in_order_across_a_server_restart(own_server, tmp_path, experiment_name,
                                                           monkeypatch):
    for name in ("MLFLOW_TRACKING_TOKEN", "STEPRUN_RUNNER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    ws = Workspace(own_server.url)
    experiment = Experiment(ws, experiment_name)
    gate, total = tmp_path / "gate", tmp_path / "total"
    step = PythonScriptStep("paced.py", name="paced", arguments=[str(gate), str(total)],
                            source_directory=write_script(tmp_path / "paced", "paced.py", PACED))
    try:
        run = submit(experiment, [step])
        step_run = wait_until(lambda: run.find_step_run("paced"), 60, "the step run")[0]
        wait_until(lambda: latest(ws, step_run.id).get("loss", (0,))[0] >= 1000, 120,
                   "the first batches to arrive")
        kill_server(own_server)  # mid-shipping: the backlog is not shipped yet
        time.sleep(3)
        own_server.start()
        wait_until(lambda: latest(ws, step_run.id).get("loss", (0,))[0] >= 4000, 180,
                   "shipping to go on after the restart")
        gate.touch()
        assert wait_terminal(run, 300) == "Finished"
    finally:
        stop_leftovers(experiment)
    n = int(total.read_text())
    points = history(ws, step_run.id, "loss")
    assert len(points) == n  # nothing repeated, nothing lost
    assert [(s, v) for s, v, _ in points] == [(i, i * 0.5) for i in range(n)]
    job = ws.rest.read_range(ws.rest.get_run(step_run.id), layout.LOG_FILES["job"], 0)[0].decode()
    assert f"Run.get_context(): {n} metric values" in job


@pytest.mark.servers
def test_a_replayed_shipment_changes_nothing(mlflow_server, tmp_path, experiment_name):
    """What a runner sends again after a lost answer (the same records) leaves the run as it was."""
    ws = Workspace(mlflow_server.url)
    exp_id = Experiment(ws, experiment_name).ensure()
    record = ws.rest.create_run(exp_id, name="replayed", tags={})
    folder = tmp_path / "context"
    channel = MetricShipper.prepare(folder)
    writer = ChannelWriter(channel)
    writer.send(b"".join(encode({"m": "x", "v": i / 3, "t": 1_700_000_000_000 + i // 100, "s": i})
                         for i in range(2500)))
    writer.send(encode({"m": "x", "v": float("nan"), "t": 1_700_000_000_000, "s": 2500})
                + encode({"tag": "note", "v": "once"}) + encode({"desc": "x", "d": "a series"}))
    jobs: list[str] = []
    for replay in (False, True):  # the second shipper starts from offset 0: a replay of everything
        shipper = MetricShipper(ws.rest, record, folder, None, jobs.append)
        shipper.drain()
        assert shipper.metrics == 2501 and shipper.refused == 0
        # 3.x takes the replay as it is; 2.x refuses the batch with the NaN as a duplicate, so its
        # finite rows go again together and the NaN alone
        assert shipper.requests == 3 if not replay else shipper.requests in (3, 5)
    assert not any("refused" in j for j in jobs), jobs
    points = history(ws, record.run_id, "x")
    assert [s for s, _, _ in points] == list(range(2501))
    assert [v for _, v, _ in points[:2500]] == [i / 3 for i in range(2500)]
    tags = ws.rest.get_run(record.run_id).tags
    assert tags["note"] == "once" and tags[layout.TAG_METRIC_DESCRIPTIONS] == '{"x":"a series"}'
