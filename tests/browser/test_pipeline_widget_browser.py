"""PipelineRunWidget end to end: a real four-step pipeline, JupyterLab, the frontend in Chromium.

The graph shows every step, a node's status changes live (Running, then Finished), and clicking a
node opens that step's own view with its log lines inside the pipeline widget.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import textwrap
import time
from pathlib import Path

from steprun_widgets import Experiment, PipelineRun, Workspace
from steprun_widgets.core import layout
from tests.browser.lab import run_until, write_notebook

SCRIPTS = {
    # load -> fit -> report, and load -> check beside fit; fit is slow enough to watch
    "load": """
        import pathlib, sys, time
        time.sleep(2)
        print("load: wrote 3 tables", flush=True)
        (pathlib.Path(sys.argv[1]) / "raw.txt").write_text("1 2 3")
    """,
    "fit": """
        import pathlib, sys, time
        for i in range(12):
            print(f"fit epoch {i:02d} of 12", flush=True)
            time.sleep(0.5)
        (pathlib.Path(sys.argv[2]) / "model.txt").write_text("ok")
    """,
    "check": """
        import sys
        print("check: the raw tables look fine", flush=True)
    """,
    "report": """
        print("report: all done", flush=True)
    """,
}


def node_id(name: str) -> str:
    """The graph node id of a step (PythonScriptStep.node_id)."""
    return hashlib.sha1(name.encode()).hexdigest()[:8]


def _notebook_cells(src: Path, experiment_name: str) -> list[str]:
    return [
        "from steprun_widgets import Workspace, Experiment, PipelineRunWidget\n"
        "from steprun_widgets.local import Pipeline, PythonScriptStep, PipelineData\n"
        "ws = Workspace()\n"
        "raw, model = PipelineData('raw'), PipelineData('model')\n"
        f"src = {str(src)!r}\n"
        "steps = [\n"
        "    PythonScriptStep('load.py', name='load', arguments=[raw], outputs=[raw],\n"
        "                     source_directory=f'{src}/load', allow_reuse=False),\n"
        "    PythonScriptStep('fit.py', name='fit', arguments=[raw, model], inputs=[raw], outputs=[model],\n"
        "                     source_directory=f'{src}/fit', allow_reuse=False),\n"
        "    PythonScriptStep('check.py', name='check', arguments=[raw], inputs=[raw],\n"
        "                     source_directory=f'{src}/check', allow_reuse=False),\n"
        "    PythonScriptStep('report.py', name='report', arguments=[model], inputs=[model],\n"
        "                     source_directory=f'{src}/report', allow_reuse=False),\n"
        "]\n"
        f"run = Experiment(ws, {experiment_name!r}).submit(Pipeline(ws, steps))",
        "PipelineRunWidget(run)",
    ]


def _attr(locator, name: str) -> str:
    try:
        return locator.get_attribute(name, timeout=1_000) or ""
    except Exception:
        return ""


def _wait(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def _cleanup(tracking_uri: str, experiment_name: str) -> None:
    """Cancel what is still going and remove the runner's work folders in the shared temp dir."""
    ws = Workspace(tracking_uri)
    with contextlib.suppress(Exception):
        found = ws.rest.get_experiment_by_name(experiment_name)
        experiment = Experiment(ws, experiment_name)
        query = f"tags.`{layout.TAG_RUN_SOURCE}` = '{layout.RUN_SOURCE_PIPELINE}'"
        for record in ws.rest.search_runs([str(found["experiment_id"])], query) if found else []:
            if not layout.is_terminal(record.azureml_status()):
                with contextlib.suppress(Exception):
                    PipelineRun(experiment, record.run_id).cancel()
            shutil.rmtree(Path(tempfile.gettempdir()) / "steprun-widgets" / "work" / record.run_id,
                          ignore_errors=True)
    ws.transport.close()


def test_pipeline_widget_live_in_jupyterlab(lab, page, experiment_name, artifacts_dir, tracking_uri):
    src = Path(lab.root) / f"src-{experiment_name}"
    for name, code in SCRIPTS.items():
        (src / name).mkdir(parents=True)
        (src / name / f"{name}.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    nb = write_notebook(Path(lab.root) / f"{experiment_name}.ipynb", _notebook_cells(src, experiment_name))
    try:
        run_until(page, f"{lab.url}/lab/tree/{nb.name}", ".prw-root [data-testid='prw-graph']")
        widget = page.locator(".prw-root").first

        # every step of the pipeline is a node of the graph
        nodes = widget.locator("[data-testid^='prw-node-']")
        _wait(lambda: nodes.count() == len(SCRIPTS), 30, "a node per step")
        shown = {_attr(nodes.nth(i), "data-testid") for i in range(nodes.count())}
        assert shown == {f"prw-node-{node_id(n)}" for n in SCRIPTS}, shown
        for name in SCRIPTS:
            assert name in widget.get_by_test_id(f"prw-node-{node_id(name)}").text_content()

        # fit's node goes Running, then Finished, while the page stays open (no reload)
        fit = widget.get_by_test_id(f"prw-node-{node_id('fit')}")
        seen: list[str] = []

        def fit_is(status: str) -> bool:
            value = _attr(fit, "data-status")
            if value and (not seen or seen[-1] != value):
                seen.append(value)
            return value == status

        _wait(lambda: fit_is("Running"), 90, f"fit Running (saw {seen})")
        summary_running = widget.get_by_test_id("prw-summary").inner_text()
        assert "Running" in summary_running or "running" in summary_running, summary_running

        # click the running node: its own step view opens in the detail pane and streams its log
        fit.click()
        detail = widget.get_by_test_id("prw-detail")
        lines = detail.locator(".srw-line")
        _wait(lambda: lines.filter(has_text="fit epoch").count() > 0, 60, "fit's log lines in the pane")
        assert detail.get_by_test_id("prw-detail-name").inner_text().strip() == "fit"
        widget.screenshot(path=str(artifacts_dir / "pipeline_widget_running.png"))

        _wait(lambda: fit_is("Finished"), 90, f"fit Finished (saw {seen})")
        assert seen.index("Running") < seen.index("Finished"), seen
        _wait(lambda: lines.filter(has_text="fit epoch 11 of 12").count() == 1, 30,
              "fit's last line, streamed into the open pane")
        assert "Finished" in detail.get_by_test_id("srw-status").inner_text()

        for name in ("load", "check", "report"):
            node = widget.get_by_test_id(f"prw-node-{node_id(name)}")
            _wait(lambda node=node: _attr(node, "data-status") == "Finished", 60, f"{name} Finished")
        _wait(lambda: "Finished" in widget.get_by_test_id("prw-status").inner_text(), 30,
              "the pipeline Finished")
        assert "4" in widget.get_by_test_id("prw-summary").inner_text()

        # another node: the pane now shows that step's lines, not fit's
        widget.get_by_test_id(f"prw-node-{node_id('check')}").click()
        _wait(lambda: lines.filter(has_text="check: the raw tables look fine").count() == 1, 60,
              "check's log line in the pane")
        assert lines.filter(has_text="fit epoch").count() == 0
        assert widget.get_by_test_id("prw-timeline").is_visible()

        widget.get_by_test_id(f"prw-node-{node_id('fit')}").click()
        _wait(lambda: lines.filter(has_text="fit epoch 11 of 12").count() == 1, 60, "fit's lines again")
        page.set_viewport_size({"width": 1280, "height": 1500})  # the whole widget, timeline included
        widget.scroll_into_view_if_needed()
        time.sleep(0.5)
        widget.screenshot(path=str(artifacts_dir / "pipeline_widget.png"))
        assert not page.dialogs
    finally:
        _cleanup(tracking_uri, experiment_name)
