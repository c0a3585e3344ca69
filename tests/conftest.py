"""Shared fixtures: a real MLflow tracking server for the whole test session."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from steprun_widgets import Experiment, Workspace
from tests.mlflow_server import MlflowServer
from tests.support import embedded_workspace, stop_leftovers

#: Screenshots of the browser tests (kept after the run for whoever reads a CI log; not committed).
ARTIFACTS = Path(__file__).parent / "browser" / "artifacts"


def pytest_configure(config):
    # The sample's training step lasts ~20 s for a person watching it; 2 s here (every kernel,
    # runner and step the tests start inherits this).
    os.environ.setdefault("STEPRUN_SAMPLE_EPOCH_SECONDS", "0.2")
    # A shell starts a background job (scripts/test.sh runs its lanes so) with SIGINT ignored, and
    # Python then installs no KeyboardInterrupt handler: the tests that deliver a real Ctrl-C
    # (``_thread.interrupt_main``) would see nothing. Python's own handler, as in a terminal.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # The per-user root of Workspace.local() (and of `steprun-widgets` without --root): a folder of
    # this session, never the real user's data folder. Subprocesses and notebook kernels inherit it.
    home = tempfile.mkdtemp(prefix="steprun-home-")
    os.environ["STEPRUN_HOME"] = home
    config._steprun_home = home


def pytest_unconfigure(config):
    home = getattr(config, "_steprun_home", None)
    if not home:
        return
    with contextlib.suppress(Exception):  # the session's per-user server, if a test started it
        from steprun_widgets.local.server import stop_server

        stop_server(home, force=True, grace=5)
    shutil.rmtree(home, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that used a JupyterLab gets the end of Lab's log in its report: kernel
    starts, restarts and deaths are only seen there."""
    outcome = yield
    report = outcome.get_result()
    lab = getattr(item, "funcargs", {}).get("lab")
    if report.failed and report.when == "call" and hasattr(lab, "log_tail"):
        report.sections.append(("JupyterLab log (last lines)", lab.log_tail()))


_names = itertools.count()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` on 127.0.0.1 (SQLite, temp folder, free port) for the session."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tracking_uri(mlflow_server) -> str:
    return mlflow_server.url


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where browser tests leave screenshots: emptied once per session, kept after it."""
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    return ARTIFACTS


@pytest.fixture
def embedded_way_workspace(mlflow_server, monkeypatch) -> Workspace:
    """A workspace on the session's server laid out like the embedded default: the runner appends
    live logs straight into the server's artifact folder (``local_root``). No token in the
    environment. The widget and migration tests use it as their ``workspace``."""
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.delenv("STEPRUN_RUNNER_TOKEN", raising=False)
    ws = embedded_workspace(mlflow_server)
    yield ws
    ws.transport.close()


@pytest.fixture
def experiment_name(request) -> str:
    """A fresh experiment name per test, so tests never see each other's runs."""
    return f"{request.node.name[:60]}-{next(_names)}"


@pytest.fixture
def experiment(workspace, experiment_name) -> Experiment:
    """The test's own experiment on the suite's ``workspace``; at teardown nothing it submitted is
    left running. (tests/core defines its own: it lays runs out by hand.)"""
    exp = Experiment(workspace, experiment_name)
    yield exp
    stop_leftovers(exp)
