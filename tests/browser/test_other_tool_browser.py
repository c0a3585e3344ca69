"""A run of another tool in JupyterLab and Chromium: its outputs are listed when the user asks.

The pipeline is written by MLflow's own client (tests/servers/other_tool.py): ``prep`` has logs, a
lone-file output ``data.csv`` and a folder output ``model``, and no steprun tags, so it declares no
outputs. Its StepRunWidget and the step pane of its PipelineRunWidget each show "List outputs";
clicking it makes the kernel list them and the outputs table appear with sizes and downloads.
"""

from __future__ import annotations

from pathlib import Path

from tests.browser.lab import run_until, write_notebook
from tests.browser.test_pipeline_widget_browser import _wait
from tests.servers.helpers import make_other_tool_runs

CELLS = [
    "from steprun_widgets import Workspace, Experiment, PipelineRun, StepRunWidget, PipelineRunWidget\n"
    "run = PipelineRun(Experiment(Workspace(), {experiment!r}), {pipeline!r})",
    "StepRunWidget(run.get_step('prep'))",
    "PipelineRunWidget(run)",
]


def _list_and_check(view, what: str) -> None:
    """Click "List outputs" in one step view; its outputs table must then show prep's outputs."""
    button = view.get_by_test_id("srw-list-outputs")
    button.wait_for(timeout=60_000)
    assert "not listed" in view.get_by_test_id("srw-outputs").inner_text().lower(), what
    assert view.locator("tr.srw-out-row").count() == 0, f"{what}: no outputs before the click"
    button.click()
    view.get_by_test_id("srw-download-data.csv").wait_for(timeout=60_000)
    rows = view.locator("tr.srw-out-row")
    _wait(lambda: rows.count() == 2, 30, f"{what}: a row per output")
    cells = {rows.nth(i).locator(".srw-out-name-text").inner_text():
             (rows.nth(i).locator(".srw-out-size").inner_text(),
              rows.nth(i).locator(".srw-out-files").inner_text()) for i in range(2)}
    assert cells == {"data.csv": ("8 B", "1"), "model": ("269 B", "2")}, (what, cells)
    assert view.get_by_test_id("srw-download-model").inner_text() == "Download .zip"
    assert view.get_by_test_id("srw-list-outputs").count() == 0, f"{what}: the button is gone"


def test_outputs_of_another_tools_run_are_listed_on_request(lab, page, experiment_name, tracking_uri,
                                                           artifacts_dir):
    made = make_other_tool_runs(tracking_uri, experiment_name)
    cells = [c.format(experiment=experiment_name, pipeline=made["pipeline"]) if i == 0 else c
             for i, c in enumerate(CELLS)]
    nb = write_notebook(Path(lab.root) / f"{experiment_name}.ipynb", cells)
    roots = page.locator(".srw-root")
    run_until(page, f"{lab.url}/lab/tree/{nb.name}", ".srw-root")

    step = roots.first  # nothing is selected in the pipeline yet: its pane holds no view
    _wait(lambda: "Finished" in step.get_by_test_id("srw-status").inner_text(), 60, "prep Finished")
    assert "prep done ✓" in step.get_by_test_id("srw-log").inner_text()
    step.get_by_test_id("srw-list-outputs").wait_for(timeout=60_000)
    step.scroll_into_view_if_needed()
    step.screenshot(path=str(artifacts_dir / "other_tool_step_before.png"))
    _list_and_check(step, "StepRunWidget")
    step.screenshot(path=str(artifacts_dir / "other_tool_step_listed.png"))

    pipeline = page.locator(".prw-root").first
    pipeline.get_by_test_id("prw-graph").wait_for(timeout=90_000)
    pipeline.get_by_test_id(f"prw-node-{made['children']['prep']}").click()
    pane = pipeline.get_by_test_id("prw-detail")
    _wait(lambda: pane.locator(".srw-root").count() == 1, 60, "prep's view in the pane")
    _list_and_check(pane, "the pipeline's step pane")
    pane.scroll_into_view_if_needed()
    pane.screenshot(path=str(artifacts_dir / "other_tool_pipeline_listed.png"))
    assert not page.dialogs
