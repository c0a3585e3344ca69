"""The README's pictures: both widgets on the sample pipeline, live in JupyterLab and Chromium.

The notebook runs the sample pipeline of ``notebooks/sample`` (prep -> train -> evaluate) to its
end and shows a PipelineRunWidget, with the train step's pane opened by a click on its node, and
the StepRunWidget of train (its loss chart, logs and outputs). The screenshots land in
tests/browser/artifacts/; with ``STEPRUN_UPDATE_SCREENSHOTS=1`` also in ``docs/_static/``, where
the README and the docs take them from (commit them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.browser.lab import run_until, write_notebook
from tests.browser.test_pipeline_widget_browser import _cleanup, _wait, node_id

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "docs" / "_static"

CELLS = [
    "import sys\n"
    "sys.path.insert(0, {sample!r})\n"
    "from sample_pipeline import build_pipeline\n"
    "from steprun_widgets import Workspace, Experiment, StepRunWidget, PipelineRunWidget\n"
    "ws = Workspace()\n"
    "run = Experiment(ws, {experiment!r}).submit(build_pipeline(ws, root={sample!r}, rows=100))\n"
    "assert run.wait_for_completion(show_output=False) == 'Finished'",
    "PipelineRunWidget(run)",
    "StepRunWidget(run.find_step_run('train')[0])",
]


@pytest.fixture
def sample_notebook(lab, experiment_name, tracking_uri):
    sample = Path(lab.root) / f"sample-{experiment_name}"
    shutil.copytree(REPO / "notebooks" / "sample", sample, ignore=shutil.ignore_patterns("__pycache__"))
    cells = [c.format(sample=str(sample), experiment=experiment_name) if i == 0 else c
             for i, c in enumerate(CELLS)]
    yield write_notebook(Path(lab.root) / f"{experiment_name}.ipynb", cells)
    _cleanup(tracking_uri, experiment_name)


def test_screenshots_of_both_widgets(lab, page, sample_notebook, artifacts_dir):
    page.set_viewport_size({"width": 1100, "height": 2400})  # each widget whole in view
    run_until(page, f"{lab.url}/lab/tree/{sample_notebook.name}", ".prw-root [data-testid='prw-graph']",
              timeout_s=180)
    pipeline = page.locator(".prw-root").first
    _wait(lambda: page.locator(".srw-root").count() >= 1, 90, "the step widget")

    for name in ("prep", "train", "evaluate"):
        node = pipeline.get_by_test_id(f"prw-node-{node_id(name)}")
        _wait(lambda n=node: "Finished" in (n.text_content() or "") or "Finished" in
              (n.get_attribute("aria-label") or ""), 60, f"{name} Finished in the graph")
    pipeline.get_by_test_id(f"prw-node-{node_id('train')}").click()
    detail = pipeline.get_by_test_id("prw-detail")
    _wait(lambda: detail.is_visible() and "train" in detail.inner_text(), 60, "train's pane")
    _wait(lambda: "epoch" in detail.inner_text(), 60, "train's log in its pane")

    step = page.locator(".srw-root").last
    _wait(lambda: "Finished" in step.get_by_test_id("srw-status").inner_text(), 60, "train Finished")
    _wait(lambda: "model" in step.get_by_test_id("srw-outputs").inner_text(), 60, "train's output")

    shots = {"pipeline": pipeline, "step": step}
    for name, locator in shots.items():
        locator.scroll_into_view_if_needed()
        page.wait_for_timeout(500)  # let the charts and the graph settle after scrolling
        path = artifacts_dir / f"screenshot-{name}.png"
        locator.screenshot(path=str(path))
        assert path.stat().st_size > 10_000, f"{path} looks empty"
        if os.environ.get("STEPRUN_UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(path, STATIC / path.name)
