"""A notebook saved after a run, reopened, and a kernel restarted under open views.

JupyterLab 4 and Notebook 7 on their default settings, in headless Chromium:

- run the cells in Lab; restart the kernel: the views keep the last state and say they are not
  live; save (Lab's default keeps no widget state), shut the kernel down, reopen with a fresh kernel
  and with no kernel at all: no ipywidgets loading or error text, the snapshot of each widget
  (step names, status, the log) where the view was;
- a notebook executed with nbclient (which stores the widget state: one model carries the frontend
  code, the others a small loader), signed as its owner would have it, reopened with a fresh
  kernel: the widgets' own views render from the saved state, say they are not live, and no
  snapshot shows beside them;
- Notebook 7: the same reopened notebooks, and a kernel restart under live views.

Screenshots of the reopened pages are left in the browser artifacts folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from steprun_widgets import Experiment, Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PythonScriptStep
from tests.browser.lab import JupyterLab, accept_kernel_dialog, run_until, write_notebook
from tests.notebooks.helpers import WIDGET_STATE, execute

LOG_LINE = "hello from greet"
IPYWIDGETS_TEXT = ("Error displaying widget", "Loading widget", "model not found")


@pytest.fixture(scope="module")
def finished(tracking_uri, tmp_path_factory):
    """A finished two-step pipeline run: (experiment name, run id)."""
    src = tmp_path_factory.mktemp("saved-src")
    (src / "greet.py").write_text(f"print({LOG_LINE!r})\n", encoding="utf-8")
    (src / "count.py").write_text("print('counted 3')\n", encoding="utf-8")
    ws = Workspace(tracking_uri)
    steps = [PythonScriptStep(f"{n}.py", name=n, source_directory=src, allow_reuse=False)
             for n in ("greet", "count")]
    run = Experiment(ws, "saved-notebooks").submit(Pipeline(ws, steps))
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED
    ws.transport.close()
    return "saved-notebooks", run.id


def _cells(finished) -> list[str]:
    experiment, run_id = finished
    return [
        "from steprun_widgets import Experiment, PipelineRun, PipelineRunWidget, StepRunWidget, Workspace\n"
        f"run = PipelineRun(Experiment(Workspace(), {experiment!r}), {run_id!r})",
        "PipelineRunWidget(run)",
        "StepRunWidget(run.find_step_run('greet')[0])",
    ]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def _visible(page, selector: str) -> int:
    found = page.locator(selector)
    return sum(found.nth(i).is_visible() for i in range(found.count()))


def _ipywidgets_text(page) -> list[str]:
    """ipywidgets' own loading/error texts visible on the page."""
    return [t for t in IPYWIDGETS_TEXT if _visible(page, f"text={t}")]


def _live_views(page, timeout: float = 90) -> None:
    _wait(lambda: _visible(page, ".prw-root [data-testid^='prw-node-']") == 2, timeout, "the pipeline graph")
    _wait(lambda: LOG_LINE in (page.locator(".srw-root").first.text_content() or ""), 60, "the step log")


def _run_all_again(page) -> None:
    """Run the open notebook's cells again (from the Run menu)."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def _assert_snapshots_stand_for_the_views(page) -> None:
    """The reopened page without models: the two snapshots show, no ipywidgets text."""
    _wait(lambda: _visible(page, ".srw-snapshot-companion") == 2, 60, "the two snapshots")
    time.sleep(3)  # ipywidgets gives up on the models only after its restore ran
    assert _ipywidgets_text(page) == []
    assert _visible(page, ".srw-snapshot-companion") == 2
    text = " ".join(page.locator(".srw-snapshot-companion").all_text_contents())
    for expected in ("greet", "count", LOG_LINE, "Finished"):
        assert expected in text, expected


def _sessions(server: JupyterLab) -> list[dict]:
    return requests.get(f"{server.url}/api/sessions", timeout=10).json()


def _shut_kernels_down(server: JupyterLab) -> None:
    """End the notebook's session and kernel (what "Shut Down Kernel" and closing the tab do).

    A kernel still restarting cannot be shut down yet (jupyter_client answers 500): try again.
    """
    def ended() -> bool:
        for session in _sessions(server):
            requests.delete(f"{server.url}/api/sessions/{session['id']}", timeout=30)
        return not _sessions(server)

    _wait(ended, 60, "the kernels shut down")


def _restart_kernel(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel…").first.click()
    page.locator(".jp-Dialog button", has_text="Restart").last.click()
    page.wait_for_selector(".jp-Dialog", state="detached", timeout=30_000)




def _open(page, url: str) -> None:
    page.goto(url + "?reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)


def _sign(path: Path) -> None:
    """Trust the notebook as its owner's Jupyter would (the server's own notebook secret)."""
    subprocess.run([sys.executable, "-m", "nbformat.sign", str(path)], check=True,
                   env={**os.environ, "JUPYTER_PLATFORM_DIRS": "1"}, capture_output=True)


def _executed(root: Path, name: str, finished, tracking_uri: str, *, state: bool) -> Path:
    path = write_notebook(root / name, _cells(finished))
    execute(path, tracking_uri, store_widget_state=state)
    _sign(path)
    return path


def _assert_views_from_saved_state(page) -> None:
    _live_views(page)
    time.sleep(2)
    assert _ipywidgets_text(page) == []
    assert _visible(page, ".srw-snapshot-companion") == 0, "a view rendered: its snapshot hides"
    assert _visible(page, ".srw-not-live") == 2, "restored from saved state, not live"


def test_lab_restart_save_and_reopen(lab, page, finished, artifacts_dir):
    nb = write_notebook(Path(lab.root) / "saved-lab.ipynb", _cells(finished))
    url = f"{lab.url}/lab/tree/{nb.name}"
    run_until(page, url, ".prw-root [data-testid^='prw-node-']")
    _live_views(page)
    assert _visible(page, ".srw-snapshot-companion") == 0, "live views: the snapshots are hidden"
    assert _visible(page, ".srw-not-live") == 0

    # kernel restarted under the open views: the last state stays, each view says it is not live
    _restart_kernel(page)
    _wait(lambda: _visible(page, ".srw-not-live") == 2, 60, "a not-live notice on each view")
    assert "not live" in page.locator(".srw-not-live").first.text_content().lower()
    assert LOG_LINE in page.locator(".srw-root").first.text_content()
    assert _visible(page, ".prw-root [data-testid^='prw-node-']") == 2
    assert _ipywidgets_text(page) == []
    page.screenshot(path=str(artifacts_dir / "saved-lab-restarted.png"), full_page=True)

    page.keyboard.press("Control+s")
    _wait(lambda: "srw-snapshot-companion" in nb.read_text(encoding="utf-8"), 30, "the notebook saved")
    saved = json.loads(nb.read_text(encoding="utf-8"))
    assert "widgets" not in saved["metadata"], "Lab's default settings save no widget state"
    _shut_kernels_down(lab)

    # reopened with a fresh kernel (Lab starts one for the notebook's kernelspec)
    _open(page, url)
    _wait(lambda: len(_sessions(lab)) == 1, 60, "a fresh kernel")
    _assert_snapshots_stand_for_the_views(page)
    page.screenshot(path=str(artifacts_dir / "saved-lab-fresh-kernel.png"), full_page=True)
    _shut_kernels_down(lab)

    # reopened with no kernel: a kernelspec (and language) this machine has none of, "No Kernel" chosen
    saved["metadata"]["kernelspec"] = {"name": "srw-no-such-kernel", "display_name": "gone",
                                       "language": "srw-none"}
    saved["metadata"]["language_info"] = {"name": "srw-none"}
    nb.write_text(json.dumps(saved), encoding="utf-8")
    _sign(nb)  # still its owner's notebook: trusted, so ipywidgets' renderer runs (and finds no kernel)
    page.goto(url + "?reset")
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=60_000)
    dialog.locator("button", has_text="No Kernel").first.click()
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    _assert_snapshots_stand_for_the_views(page)
    assert _sessions(lab) == []
    page.screenshot(path=str(artifacts_dir / "saved-lab-no-kernel.png"), full_page=True)


def test_lab_reopens_nbclient_widget_state(lab, page, finished, tracking_uri, artifacts_dir):
    nb = _executed(Path(lab.root), "saved-state.ipynb", finished, tracking_uri, state=True)
    models = json.loads(nb.read_text(encoding="utf-8"))["metadata"]["widgets"][WIDGET_STATE]["state"]
    assert any(m["model_module"] == "anywidget" for m in models.values())
    _open(page, f"{lab.url}/lab/tree/{nb.name}")
    accept_kernel_dialog(page)
    _assert_views_from_saved_state(page)
    page.screenshot(path=str(artifacts_dir / "saved-lab-widget-state.png"), full_page=True)
    _shut_kernels_down(lab)


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory, tracking_uri):
    """Notebook 7 (``jupyter notebook``) whose kernels see the session's tracking server."""
    root = tmp_path_factory.mktemp("nb7")
    env = {**os.environ, "STEPRUN_TRACKING_URI": tracking_uri, "JUPYTER_PLATFORM_DIRS": "1"}
    env.pop("MLFLOW_TRACKING_TOKEN", None)
    server = JupyterLab(root, env, app="notebook")
    yield server
    server.stop()


def test_notebook7_reopened_and_restarted(notebook7, page, finished, tracking_uri, artifacts_dir):
    root = Path(notebook7.root)
    plain = _executed(root, "nb7-plain.ipynb", finished, tracking_uri, state=False)
    _open(page, f"{notebook7.url}/notebooks/{plain.name}")
    _assert_snapshots_stand_for_the_views(page)
    page.screenshot(path=str(artifacts_dir / "saved-nb7-fresh-kernel.png"), full_page=True)
    _shut_kernels_down(notebook7)

    with_state = _executed(root, "nb7-state.ipynb", finished, tracking_uri, state=True)
    _open(page, f"{notebook7.url}/notebooks/{with_state.name}")
    _assert_views_from_saved_state(page)
    page.screenshot(path=str(artifacts_dir / "saved-nb7-widget-state.png"), full_page=True)

    # run the cells (live views), then restart the kernel under them
    _run_all_again(page)
    _wait(lambda: _visible(page, ".srw-not-live") == 0, 60, "the restored views replaced by live ones")
    _live_views(page)
    _restart_kernel(page)
    _wait(lambda: _visible(page, ".srw-not-live") == 2, 60, "a not-live notice on each view")
    assert _ipywidgets_text(page) == []
    page.screenshot(path=str(artifacts_dir / "saved-nb7-restarted.png"), full_page=True)
    _shut_kernels_down(notebook7)


def test_lab_loader_gets_the_code_from_its_kernel(lab, page, finished):
    """A page with no carrier (it was closed before the page loaded): the loader asks its kernel."""
    experiment, run_id = finished
    nb = write_notebook(Path(lab.root) / "loader-only.ipynb", [
        "from steprun_widgets import Experiment, PipelineRun, StepRunWidget, Workspace\n"
        f"run = PipelineRun(Experiment(Workspace(), {experiment!r}), {run_id!r})\n"
        "step = run.find_step_run('greet')[0]\n"
        "carrier, widget = StepRunWidget(step), StepRunWidget(step)\n"
        "carrier.close()\n"
        "assert '\"js\": null' in widget._esm\n"
        "widget",
    ])
    url = f"{lab.url}/lab/tree/{nb.name}"

    def step_view(what: str, timeout: float = 90) -> None:
        _wait(lambda: LOG_LINE in (page.locator(".srw-root").first.text_content() or ""), timeout, what)

    run_until(page, url, ".srw-root")
    step_view("the step view")
    page.keyboard.press("Control+s")
    _wait(lambda: "srw-snapshot-companion" in nb.read_text(encoding="utf-8"), 30, "the notebook saved")
    # a new page: ipywidgets restores the one living model from the kernel, without any carrier
    page.goto(url)
    step_view("the step view with its code from the kernel")
    assert _ipywidgets_text(page) == []
    _shut_kernels_down(lab)
