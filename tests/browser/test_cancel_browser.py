"""Cancel, the step pane and "never started" in JupyterLab and Chromium (the
pipeline widget serves the step pane from its own model).

Two pipelines, each `long` (prints, then waits) -> `after` (needs long's output):
- the first shown as a StepRunWidget of `long` and a PipelineRunWidget: a click on `long` opens
  its view in the pipeline's pane (its log streams in); Cancel asks inline ("Keep running" keeps
  it), "Cancel run" says "Cancel requested…", then the step, the pane and the widget say Canceled
  and the button is gone; `after` was canceled before it started: no duration on its node, no
  elapsed time in its pane;
- the second canceled from the pipeline widget's header.
Screenshots of the confirmation, light and dark, land in tests/browser/artifacts/.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from tests.browser.lab import run_until, write_notebook
from tests.browser.test_pipeline_widget_browser import _attr, _cleanup, _wait, node_id
from tests.browser.test_step_widget_browser import choose_theme

LONG = """
    import sys, time
    print("long: started", flush=True)
    for i in range(900):
        time.sleep(0.1)
"""
AFTER = """
    print("after: never", flush=True)
"""

CELLS = [
    "from steprun_widgets import Workspace, Experiment, StepRunWidget, PipelineRunWidget\n"
    "from steprun_widgets.local import Pipeline, PythonScriptStep, PipelineData\n"
    "ws = Workspace()\n"
    "src = {src!r}\n"
    "def pipeline():\n"
    "    data = PipelineData('data')\n"
    "    return Pipeline(ws, [\n"
    "        PythonScriptStep('long.py', name='long', arguments=[data], outputs=[data],\n"
    "                         source_directory=f'{{src}}/long', allow_reuse=False),\n"
    "        PythonScriptStep('after.py', name='after', arguments=[data], inputs=[data],\n"
    "                         source_directory=f'{{src}}/after', allow_reuse=False)])\n"
    "experiment = Experiment(ws, {experiment!r})\n"
    "first, second = experiment.submit(pipeline()), experiment.submit(pipeline())",
    "StepRunWidget(first.find_step_run('long')[0])",
    "PipelineRunWidget(first)",
    "PipelineRunWidget(second)",
]


def _text(locator) -> str:
    try:
        return locator.inner_text(timeout=1_000)
    except Exception:
        return ""


def _visible(locator) -> bool:
    try:
        return locator.count() > 0 and locator.first.is_visible()
    except Exception:
        return False


def test_cancel_a_step_and_a_pipeline(lab, page, experiment_name, tracking_uri, artifacts_dir):
    src = Path(lab.root) / f"src-{experiment_name}"
    for name, code in {"long": LONG, "after": AFTER}.items():
        (src / name).mkdir(parents=True)
        (src / name / f"{name}.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    cells = [c.format(src=str(src), experiment=experiment_name) if i == 0 else c for i, c in enumerate(CELLS)]
    nb = write_notebook(Path(lab.root) / f"{experiment_name}.ipynb", cells)
    try:
        run_until(page, f"{lab.url}/lab/tree/{nb.name}", ".prw-root")
        step = page.locator(".srw-root:not(.prw-root .srw-root)").first
        pipelines = page.locator(".prw-root")
        _wait(lambda: pipelines.count() == 2, 90, "both pipeline widgets")
        first, second = pipelines.nth(0), pipelines.nth(1)
        long_node = first.get_by_test_id(f"prw-node-{node_id('long')}")
        _wait(lambda: _attr(long_node, "data-status") == "Running", 120, "long Running")

        # C: a click opens long's view in the pane, served on the pipeline's own model
        long_node.click()
        detail = first.get_by_test_id("prw-detail")
        _wait(lambda: detail.locator(".srw-line", has_text="long: started").count() == 1, 60,
              "long's log in the pane")
        assert "Running" in _text(detail.get_by_test_id("srw-status"))

        # A: the step widget's Cancel asks inline; Keep running keeps it
        cancel = step.get_by_test_id("srw-run-cancel")
        _wait(lambda: _visible(cancel), 60, "the step widget's Cancel button (live view)")
        cancel.click()
        box = step.get_by_test_id("srw-run-cancel-box")
        assert box.is_visible()
        assert _text(step.get_by_test_id("srw-run-cancel-question")) == "Cancel run long?"
        step.scroll_into_view_if_needed()
        step.screenshot(path=str(artifacts_dir / "cancel-confirm-light.png"))
        choose_theme(page, "JupyterLab Dark")
        try:
            step.scroll_into_view_if_needed()
            step.screenshot(path=str(artifacts_dir / "cancel-confirm-dark.png"))
        finally:
            choose_theme(page, "JupyterLab Light")
        step.get_by_test_id("srw-run-cancel-keep").click()
        assert not box.is_visible() and cancel.is_visible()
        time.sleep(1.5)
        assert "Running" in _text(step.get_by_test_id("srw-status"))

        # ... and the pane's own Cancel cancels the step for real
        pane_cancel = detail.get_by_test_id("srw-run-cancel")
        _wait(lambda: _visible(pane_cancel), 30, "the pane's Cancel button")
        pane_cancel.click()
        assert _text(detail.get_by_test_id("srw-run-cancel-question")) == "Cancel run long?"
        detail.get_by_test_id("srw-run-cancel-confirm").click()
        note = detail.get_by_test_id("srw-run-cancel-note")
        _wait(lambda: "Cancel" in _text(note), 10, "the pane's cancel note")
        first.screenshot(path=str(artifacts_dir / "cancel-requested-pane.png"))
        _wait(lambda: "Canceled" in _text(detail.get_by_test_id("srw-status")), 60, "the pane Canceled")
        _wait(lambda: "Canceled" in _text(step.get_by_test_id("srw-status")), 60, "the step widget Canceled")
        _wait(lambda: "Canceled" in _text(first.get_by_test_id("prw-status")), 60, "the pipeline Canceled")
        assert not _visible(pane_cancel) and not _visible(cancel), "no Cancel on an ended run"
        assert not _visible(first.get_by_test_id("prw-run-cancel"))

        # B: `after` never started: Canceled, with no duration or elapsed time anywhere
        after_node = first.get_by_test_id(f"prw-node-{node_id('after')}")
        _wait(lambda: _attr(after_node, "data-status") == "Canceled", 60, "after Canceled")
        label = after_node.locator(".prw-node-sub").text_content()  # "Canceled", not "Canceled · 4s"
        assert label.strip() == "Canceled", label
        after_node.click()
        _wait(lambda: "after" in _text(detail.get_by_test_id("srw-name")), 60, "after's view in the pane")
        _wait(lambda: "Canceled" in _text(detail.get_by_test_id("srw-status")), 30,
              "after Canceled in the pane")
        assert not _visible(detail.get_by_test_id("srw-elapsed")), "no elapsed time for a step never started"
        assert detail.locator(".srw-line", has_text="after: never").count() == 0
        first.scroll_into_view_if_needed()
        first.screenshot(path=str(artifacts_dir / "cancel-after-never-started.png"))

        # A: the second pipeline, canceled from its header
        second.scroll_into_view_if_needed()
        header_cancel = second.get_by_test_id("prw-run-cancel")
        _wait(lambda: _visible(header_cancel), 60, "the pipeline's Cancel button")
        header_cancel.click()
        assert "Cancel run " in _text(second.get_by_test_id("prw-run-cancel-question"))
        second.screenshot(path=str(artifacts_dir / "cancel-confirm-pipeline-light.png"))
        second.get_by_test_id("prw-run-cancel-confirm").click()
        _wait(lambda: "Cancel" in _text(second.get_by_test_id("prw-run-cancel-note")), 10, "the note")
        _wait(lambda: "Canceled" in _text(second.get_by_test_id("prw-status")), 60,
              "the second pipeline Canceled")
        assert not _visible(header_cancel)
        assert not page.dialogs
    finally:
        _cleanup(tracking_uri, experiment_name)
