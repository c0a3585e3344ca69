"""Fixtures of the Azure ML v1 migration tests: real runs on the session's MLflow server."""

from __future__ import annotations

import pytest

from steprun_widgets import Workspace


@pytest.fixture
def workspace(mlflow_server, monkeypatch) -> Workspace:
    """A workspace on the session's server whose runner appends logs in place (the embedded way)."""
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.delenv("STEPRUN_RUNNER_TOKEN", raising=False)
    ws = Workspace(mlflow_server.url)
    mlflow_server.artifacts.mkdir(exist_ok=True)
    ws.local_root = mlflow_server.folder
    yield ws
    ws.transport.close()
