"""The widgets in a marimo app (marimo renders anywidgets itself), in Chromium.

``marimo run`` serves an app that shows a StepRunWidget of a running step and a PipelineRunWidget
of its pipeline: both render, follow the run live, and clicking a node shows that step's view with
its log in the pipeline's pane.

marimo (0.25) can open a widget's model only while a cell runs: a child widget made in the
callback of a click failed inside marimo (``EsmSpec.from_esm`` -> ``virtual_file``
AssertionError) and the pane stayed at "Opening the step view…". The pane is served on the
pipeline widget's own model (no new model on a click), so the app does nothing special for it:
each node clicked shows its own step's view and log.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import requests

from steprun_widgets import Experiment, Workspace
from steprun_widgets.local import Pipeline, PythonScriptStep
from tests.mlflow_server import free_port

APP = '''
import marimo

app = marimo.App()


@app.cell
def _():
    import os

    from steprun_widgets import Experiment, PipelineRun, PipelineRunWidget, StepRunWidget, Workspace

    run = PipelineRun(Experiment(Workspace(), os.environ["SRW_EXPERIMENT"]), os.environ["SRW_RUN"])
    return PipelineRunWidget, StepRunWidget, run


@app.cell
def _(StepRunWidget, run):
    StepRunWidget(run.find_step_run("count")[0])
    return


@app.cell
def _(PipelineRunWidget, run):
    pipeline_widget = PipelineRunWidget(run)
    pipeline_widget
    return


if __name__ == "__main__":
    app.run()
'''

COUNT = """
    import time
    time.sleep(2)
    for i in range(12):
        print(f"count {i:02d}", flush=True)
        time.sleep(0.4)
"""
DONE = """
    print("done counting", flush=True)
"""


def _wait(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def _text(locator) -> str:
    try:
        return locator.inner_text(timeout=1_000)
    except Exception:
        return ""


@contextlib.contextmanager
def marimo_app(app: Path, env: dict[str, str]):
    """``marimo run app.py --headless`` on a free loopback port; yields its URL."""
    port = free_port()
    log = open(app.parent / "marimo.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "marimo", "run", str(app), "--headless", "--no-token",
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=app.parent,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"marimo exited: {(app.parent / 'marimo.log').read_text()[-2000:]}"
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=2).ok:
                    break
            assert time.monotonic() < deadline, "marimo did not answer in 90 s"
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()


def test_widgets_in_a_marimo_app(page, tmp_path, tracking_uri, experiment_name, artifacts_dir):
    pytest.importorskip("marimo", reason="marimo is not installed (pip install marimo)")
    for name, code in {"count": COUNT, "done": DONE}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    (tmp_path / "app.py").write_text(APP.lstrip(), encoding="utf-8")
    ws = Workspace(tracking_uri)
    steps = [PythonScriptStep(f"{name}.py", name=name, source_directory=tmp_path / name, allow_reuse=False)
             for name in ("count", "done")]
    run = Experiment(ws, experiment_name).submit(Pipeline(ws, steps))
    env = {**os.environ, "STEPRUN_TRACKING_URI": tracking_uri, "SRW_EXPERIMENT": experiment_name,
           "SRW_RUN": run.id, "MARIMO_SKIP_UPDATE_CHECK": "1",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("MLFLOW_TRACKING_TOKEN", None)
    try:
        with marimo_app(tmp_path / "app.py", env) as url:
            page.goto(url)
            step = page.locator(".srw-root").first
            step.get_by_test_id("srw-status").wait_for(timeout=90_000)
            statuses: list[str] = []

            def status_is(wanted: str) -> bool:
                value = _text(step.get_by_test_id("srw-status")).strip()
                if value and (not statuses or statuses[-1] != value):
                    statuses.append(value)
                return wanted in value

            _wait(lambda: status_is("Running"), 60, f"the step Running (saw {statuses})")
            _wait(lambda: status_is("Finished"), 60, f"the step Finished (saw {statuses})")
            _wait(lambda: step.locator(".srw-line", has_text="count 11").count() == 1, 30, "the last line")

            pipeline = page.locator(".prw-root").first
            nodes = pipeline.locator("[data-testid^='prw-node-']")
            _wait(lambda: nodes.count() == 2, 30, "a node per step")
            _wait(lambda: "Finished" in _text(pipeline.get_by_test_id("prw-status")), 60,
                  "the pipeline Finished")
            count_node = f"prw-node-{hashlib.sha1(b'count').hexdigest()[:8]}"  # PythonScriptStep.node_id
            pipeline.get_by_test_id(count_node).click()
            detail = pipeline.get_by_test_id("prw-detail")
            lines = detail.locator(".srw-line")
            _wait(lambda: lines.filter(has_text="count 11").count() == 1, 30, "count's log in the pane")
            assert "Finished" in _text(detail.get_by_test_id("srw-status"))
            # another node: its own view and log, not count's
            pipeline.get_by_test_id(f"prw-node-{hashlib.sha1(b'done').hexdigest()[:8]}").click()
            _wait(lambda: lines.filter(has_text="done counting").count() == 1, 30, "done's log in the pane")
            assert lines.filter(has_text="count 11").count() == 0
            assert "Opening the step view" not in _text(detail)
            pipeline.get_by_test_id(count_node).click()
            _wait(lambda: lines.filter(has_text="count 11").count() == 1, 30, "count's log again")
            page.set_viewport_size({"width": 1280, "height": 1700})  # marimo scrolls inside the page
            time.sleep(0.5)
            page.screenshot(path=str(artifacts_dir / "marimo.png"))
    finally:
        ws.transport.close()
        shutil.rmtree(Path(tempfile.gettempdir()) / "steprun-widgets" / "work" / run.id, ignore_errors=True)
    assert not page.dialogs
