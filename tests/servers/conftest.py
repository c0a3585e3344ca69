"""Fixtures of the server-matrix tests: a workspace on the session's server (whichever MLflow
``STEPRUN_TEST_MLFLOW_PYTHON`` chose), runs written by MLflow's own client, a request recorder."""

from __future__ import annotations

import pytest

from steprun_widgets import Experiment, Workspace
from tests.runlayout import RunLayout
from tests.servers.helpers import make_other_tool_runs


@pytest.fixture
def workspace(tracking_uri, monkeypatch) -> Workspace:
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    ws = Workspace(tracking_uri)
    yield ws
    ws.transport.close()


@pytest.fixture
def runs(workspace, experiment_name) -> RunLayout:
    """Runs laid out as the runner writes them (docs/run-layout.md), in this test's own experiment."""
    return RunLayout(workspace, experiment_name)


@pytest.fixture(scope="module")
def other_runs(tracking_uri, tmp_path_factory):
    """A finished pipeline written once per module by MLflow's own client (see other_tool.py)."""
    return make_other_tool_runs(tracking_uri, f"other-tool-{tmp_path_factory.getbasetemp().name}")


@pytest.fixture
def other_experiment(workspace, other_runs) -> Experiment:
    return Experiment(workspace, other_runs["experiment"])
