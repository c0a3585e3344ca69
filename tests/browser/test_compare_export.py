"""A notebook whose last output is a RunComparison, executed, exported with ``jupyter nbconvert
--to html`` (widget state saved) and opened in Chromium with the network off: the comparison's
static snapshot shows (differing parameter first, a chart with a line per run), nothing from the
server runs as script."""

from __future__ import annotations

import json
import re

from steprun_widgets import Workspace
from steprun_widgets.core import layout
from tests.browser.lab import write_notebook
from tests.browser.test_export_offline import _export
from tests.notebooks.helpers import execute
from tests.runlayout import RunLayout

XSS = '<img src=x onerror="window.__xss = 1">'


def test_comparison_snapshot_in_an_offline_export(browser, tmp_path, tracking_uri, experiment_name,
                                                  artifacts_dir):
    runs = RunLayout(Workspace(tracking_uri), experiment_name)
    ids = []
    for lr in ("0.1", "0.01"):
        pipeline = runs.pipeline(steps=["train"], status=layout.FINISHED)
        step = runs.step(pipeline, "train")
        runs.rest.log_params(step.run_id, {"lr": lr, "note": XSS})
        runs.rest.transport.post_json("/api/2.0/mlflow/runs/log-batch", {"run_id": step.run_id, "metrics": [
            {"key": "loss", "value": 1 / (1 + k * float(lr) * 10), "timestamp": 1_000 + k, "step": k}
            for k in range(5)]})
        runs.set_status(step, layout.FINISHED)
        ids.append(pipeline.run_id)
    path = write_notebook(tmp_path / "compare.ipynb", [
        "import steprun_widgets\n"
        "from steprun_widgets import Workspace, Experiment, PipelineRun\n"
        f"exp = Experiment(Workspace(), {experiment_name!r})\n"
        f"steprun_widgets.compare(*(PipelineRun(exp, i) for i in {ids!r}))",
    ])
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"][0]["id"] = "cell-0"
    path.write_text(json.dumps(nb), encoding="utf-8")
    execute(path, tracking_uri, store_widget_state=True, timeout=120)
    html = _export(path)

    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    page = context.new_page()
    try:
        page.goto(html.as_uri(), wait_until="load", timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(artifacts_dir / "compare_export_offline.png"), full_page=True)
        snap = page.locator(".srw-snapshot-compare").first
        assert snap.is_visible()
        text = snap.inner_text()
        assert "Comparison of 2 runs" in text
        params = re.search(r"parameter\t[^\n]*\n([^\n]*)", text)
        assert params and params.group(1).startswith("≠ train/lr"), text
        assert snap.locator("svg polyline").count() == 2  # one chart, a line per run
        assert XSS in text and page.evaluate("window.__xss") is None
        assert page.locator(".srw-snap script").count() == 0
    finally:
        context.close()
