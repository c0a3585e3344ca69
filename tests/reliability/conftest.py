"""Fixtures of the reliability suite.

``workspace`` talks to the session's tracking server the way a remote client does (no
``local_root``: the runner re-uploads its logs over REST), with no token in the environment.
Browser tests get their own JupyterLab (module-scoped) and run Playwright on a thread of its own
(:func:`in_browser`), so they never meet the Playwright instance of ``tests/browser``.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from steprun_widgets import Workspace
from tests.reliability.helpers import FakeServer

TOKEN_VARS = ("MLFLOW_TRACKING_TOKEN", "STEPRUN_RUNNER_TOKEN")


@pytest.fixture
def workspace(mlflow_server, monkeypatch) -> Workspace:
    for name in TOKEN_VARS:
        monkeypatch.delenv(name, raising=False)
    ws = Workspace(mlflow_server.url)
    yield ws
    ws.transport.close()


@pytest.fixture
def fake_server():
    """Makes FakeServers (see helpers); every one is stopped at teardown."""
    made: list[FakeServer] = []

    def make(answer, hang: float = 0.0) -> FakeServer:
        server = FakeServer(answer, hang)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


# --- browser ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab(tmp_path_factory, tracking_uri):
    """A JupyterLab (127.0.0.1, token-less, free port) whose kernels see the session's server."""
    from tests.browser.lab import JupyterLab

    root = tmp_path_factory.mktemp("rel-lab")
    env = {**os.environ, "STEPRUN_TRACKING_URI": tracking_uri, "JUPYTER_PLATFORM_DIRS": "1"}
    for name in TOKEN_VARS:
        env.pop(name, None)
    server = JupyterLab(root, env)
    yield server
    server.stop()


class BrowserThread:
    """Headless Chromium driven by Playwright's sync API on a thread of its own.

    ``run(fn)`` calls ``fn(browser)`` on that thread and returns its result (or raises its error).
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._ready: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._main, name="rel-playwright", daemon=True)
        self._thread.start()
        error = self._ready.get(timeout=120)
        if error is not None:
            raise error

    def _main(self) -> None:
        from playwright.sync_api import sync_playwright

        from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS

        try:
            p = sync_playwright().start()
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self._ready.put(exc)
            return
        self._ready.put(None)
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    break
                fn, answer = job
                try:
                    answer.put((True, fn(browser)))
                except BaseException as exc:  # noqa: BLE001 - re-raised on the test thread
                    answer.put((False, exc))
        finally:
            browser.close()
            p.stop()

    def run(self, fn: Callable, timeout: float = 240.0):
        answer: queue.Queue = queue.Queue()
        self._jobs.put((fn, answer))
        ok, value = answer.get(timeout=timeout)
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(30)


@pytest.fixture(scope="module")
def in_browser():
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("/usr/bin/chromium is missing: install Debian's chromium (scripts/test.sh does)")
    browser = BrowserThread()
    yield browser
    browser.stop()


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/reliability/test_hostile_browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
