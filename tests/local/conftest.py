"""Fixtures of the local-runner tests: real runner processes against the session's MLflow server.

``sink`` chooses how a step's live logs reach the server: ``append`` is the embedded default
(``Workspace.local_root`` set, the runner appends straight into the artifact folder), ``upload``
is a remote server (the runner re-uploads its spooled logs over REST).
"""

from __future__ import annotations

import contextlib
import shutil

import pytest

from steprun_widgets import Experiment, Workspace
from steprun_widgets.core import layout
from tests.local.helpers import kill_runners, work_folder


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: waits for a timeout (~30 s); deselect with -m 'not slow'")


def make_workspace(server, sink: str, token: str | None = None) -> Workspace:
    """A workspace on the test server whose runner ships logs with the given sink."""
    ws = Workspace(server.url, token=token)
    if sink == "append":
        # its artifacts/ is the server's --artifacts-destination; the embedded server creates it at
        # start, mlflow only when the first artifact arrives: create it as the embedded server does
        server.artifacts.mkdir(exist_ok=True)
        ws.local_root = server.folder
    return ws


@pytest.fixture(params=["append", "upload"])
def sink(request) -> str:
    return request.param


@pytest.fixture
def workspace(mlflow_server, sink, monkeypatch) -> Workspace:
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.delenv("STEPRUN_RUNNER_TOKEN", raising=False)
    ws = make_workspace(mlflow_server, sink)
    yield ws
    ws.transport.close()


def stop_leftovers(exp: Experiment) -> None:
    """Cancel the experiment's pipelines that are still going, then kill their runners if any."""
    from steprun_widgets import PipelineRun

    found = exp.workspace.rest.get_experiment_by_name(exp.name)
    if found is None:
        return
    runs = exp.workspace.rest.search_runs([str(found["experiment_id"])],
                                          f"tags.`{layout.TAG_RUN_SOURCE}` = '{layout.RUN_SOURCE_PIPELINE}'")
    for record in runs:
        if not layout.is_terminal(record.azureml_status()):
            with contextlib.suppress(Exception):
                PipelineRun(exp, record.run_id).cancel()
        kill_runners(record.run_id)
        if exp.workspace.local_root is None:  # the runner's work folder in the shared temp dir
            shutil.rmtree(work_folder(exp.workspace, record.run_id), ignore_errors=True)
