"""Fixtures of the core-client tests: a Workspace on the session's real MLflow server."""

from __future__ import annotations

import pytest

from steprun_widgets import Experiment, Workspace
from tests.runlayout import RunLayout


@pytest.fixture
def workspace(tracking_uri) -> Workspace:
    ws = Workspace(tracking_uri)
    yield ws
    ws.transport.close()


@pytest.fixture
def runs(workspace, experiment_name) -> RunLayout:
    """Writes runs into this test's own experiment, as the runner lays them out (docs/run-layout.md)."""
    return RunLayout(workspace, experiment_name)


@pytest.fixture
def experiment(workspace, runs) -> Experiment:
    """The test's experiment (created by ``runs``), opened the way a user opens it."""
    return Experiment(workspace, runs.experiment_name)
