"""Browser fixtures: JupyterLab (token-less, 127.0.0.1, free port) and Debian's headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS, JupyterLab


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)")
    return CHROMIUM


@pytest.fixture(scope="session")
def lab(tmp_path_factory, tracking_uri):
    """A JupyterLab whose kernels see the session's tracking server as STEPRUN_TRACKING_URI."""
    root = tmp_path_factory.mktemp("lab")
    env = {**os.environ, "STEPRUN_TRACKING_URI": tracking_uri, "JUPYTER_PLATFORM_DIRS": "1"}
    env.pop("MLFLOW_TRACKING_TOKEN", None)
    server = JupyterLab(root, env)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def page(browser, request, artifacts_dir):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.dialogs = []
    page.console = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message) if d.type != "beforeunload" else None,
                                 d.accept() if d.type == "beforeunload" else d.dismiss()))
    page.on("console", lambda m: page.console.append(f"{m.type}: {m.text}"))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:  # leave evidence for whoever reads the CI log
        shot = artifacts_dir / f"failed-{request.node.name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of the failed page: {shot}")
        print("browser console:\n  " + "\n  ".join(page.console[-30:]))
    context.close()

