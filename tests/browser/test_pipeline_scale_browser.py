"""PipelineRunWidget on a 200-step fan-out/fan-in in JupyterLab and Chromium: the wide layer folds into
a group node, the search box finds a step, the timeline stays one row per drawn node.

The pipeline (source -> 198 parallel steps -> sink, a PipelineData on every edge) is laid out on the
real tracking server as the runner writes it (tests/runlayout.py): the source finished, 150 of the
middle steps finished, 40 run, 8 failed, the sink waits for its inputs. The widget shows a legend,
the data names on the edges, start and end times in the tooltips, the middle layer as one group node
with counts by status, Fit shows the whole graph, the search box selects a step, and the timeline
stays a few rows tall. Screenshots, light and dark, at 700 and 330 px wide, land in
tests/browser/artifacts/.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from steprun_widgets import Workspace
from steprun_widgets.core import layout
from steprun_widgets.local.submit import default_pipeline_name
from tests.browser.lab import run_until, write_notebook
from tests.browser.test_pipeline_widget_browser import _wait
from tests.browser.test_step_widget_browser import choose_theme
from tests.runlayout import RunLayout, now_ms

WIDTH = 198


def _middle_status(i: int) -> str:
    return layout.FINISHED if i < 150 else layout.RUNNING if i < 190 else layout.FAILED


@pytest.fixture
def fan_run(tracking_uri, experiment_name):
    """The 200-step pipeline's runs; at teardown everything still open is marked Canceled."""
    ws = Workspace(tracking_uri)
    runs = RunLayout(ws, experiment_name)
    middle = [f"part-{i}" for i in range(WIDTH)]
    names = ["source", *middle, "sink"]
    edges = [("source", m) for m in middle] + [(m, "sink") for m in middle]
    data = {("source", m): ["root"] for m in middle}
    data |= {(m, "sink"): [f"out_{i}"] for i, m in enumerate(middle)}
    pipe = runs.pipeline(default_pipeline_name(names), names, edges, edge_data=data)
    started = now_ms()

    def step(name: str, status: str):
        # created with the start tag, so set_status keeps this time rather than tagging its own
        begun = {layout.TAG_STARTED_AT: str(started)} if status != layout.NOT_STARTED else None
        run = runs.step(pipe, name, status=layout.QUEUED, extra_tags=begun)
        if status == layout.FAILED:
            return runs.fail(run, "exit code 1")
        return runs.set_status(run, status)

    source = step("source", layout.FINISHED)
    with ThreadPoolExecutor(4) as pool:
        records = list(pool.map(lambda i: step(middle[i], _middle_status(i)), range(WIDTH)))
    sink = step("sink", layout.NOT_STARTED)
    yield {"pipeline": pipe, "source": source, "started": started, "experiment": experiment_name}
    for record in [pipe, sink, *records]:
        if not layout.is_terminal(runs.rest.get_run(record.run_id).azureml_status()):
            runs.set_status(record, layout.CANCELED)
    ws.transport.close()


def _node(widget, name: str):
    return widget.get_by_test_id(f"prw-node-{RunLayout.node_id(name)}")


def _inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def _set_width(widget, width: int | None) -> None:
    widget.evaluate("(el, w) => { el.closest('.jp-OutputArea-output').style.maxWidth = w ? w + 'px' : ''; }",
                    width)
    time.sleep(0.4)


def test_pipeline_of_200_steps_in_jupyterlab(lab, page, fan_run, artifacts_dir):
    cell = ("from steprun_widgets import Workspace, Experiment, PipelineRun, PipelineRunWidget\n"
            f"PipelineRunWidget(PipelineRun(Experiment(Workspace(), {fan_run['experiment']!r}), "
            f"{fan_run['pipeline'].run_id!r}))")
    nb = write_notebook(Path(lab.root) / f"{fan_run['experiment']}.ipynb", [cell])
    widget = page.locator(".prw-root").first
    run_until(page, f"{lab.url}/lab/tree/{nb.name}", ".prw-root [data-testid='prw-graph']")
    group = widget.get_by_test_id("prw-group-1")
    _wait(lambda: "150 finished · 40 running · 8 failed" in (group.get_attribute("aria-label") or ""), 60,
          "the group node's counts")

    # 10: source, one group node and sink are drawn, not 200 nodes; the name is short
    assert widget.locator(".prw-node").count() == 3
    assert group.get_attribute("aria-label") == "Group of 198 steps · 150 finished · 40 running · 8 failed"
    assert "198 parallel steps" in group.text_content()
    assert widget.get_by_test_id("prw-name").inner_text().strip() == "pipeline: source +199 steps"

    # 8: the legend, the data names on the edges, times in the tooltips, no time for the sink
    legend = widget.get_by_test_id("prw-legend")
    assert legend.is_visible()
    for word in ("Not started", "Queued", "Running", "Finished", "Failed", "Group"):
        assert word in legend.inner_text(), word
    not_started = legend.locator(".prw-legend-item[data-status='NotStarted']").get_attribute("title")
    assert "waits for the steps before it" in not_started
    # the label's own text (its <title> child is the tooltip)
    labels = widget.get_by_test_id("prw-edge-label").evaluate_all(
        "els => els.map(e => e.lastChild.textContent)")
    assert labels == ["root", "out_0 +197"], labels
    started_at = int(fan_run["source"].tags[layout.TAG_STARTED_AT])
    assert started_at == fan_run["started"]
    clock = datetime.fromtimestamp(started_at / 1000).strftime("%H:%M:%S")
    source_tip = _node(widget, "source").locator("title").text_content()
    assert f"Started {clock}" in source_tip and "Ended " in source_tip and "Ran " in source_tip, source_tip
    sink = _node(widget, "sink")
    assert sink.get_attribute("data-status") == layout.NOT_STARTED
    assert sink.locator(".prw-node-sub").text_content() == "Not started"  # no elapsed time
    source_row = widget.get_by_test_id(f"prw-timeline-row-{RunLayout.node_id('source')}")
    assert f"Started {clock}" in (source_row.get_attribute("title") or "")
    sink_row = widget.get_by_test_id(f"prw-timeline-row-{RunLayout.node_id('sink')}")
    assert "Not started yet" in sink_row.get_attribute("title")
    assert sink_row.locator(".prw-tl-bar:not([hidden])").count() == 0

    # 10: Fit shows the whole graph, never above 100 %
    scroller = widget.locator(".prw-graph-scroll")
    for width in (700, 330):
        _set_width(widget, width)
        widget.get_by_role("button", name="Fit the whole graph").click()
        box = scroller.bounding_box()
        for node in (_node(widget, "source"), group, _node(widget, "sink")):
            assert _inside(node.bounding_box(), box), (width, node.bounding_box(), box)
        assert int(widget.locator(".prw-zoom-label").inner_text().rstrip("%")) <= 100
    _set_width(widget, None)

    # 10: the timeline is three rows (the group one of them) and unfolds inside a bounded height
    timeline = widget.get_by_test_id("prw-timeline")
    assert widget.locator(".prw-tl-row").count() == 3
    assert timeline.bounding_box()["height"] < 160
    widget.get_by_test_id("prw-timeline-group-1").click()
    _wait(lambda: widget.locator(".prw-tl-row").count() == 201, 10, "the group's rows")
    assert widget.locator(".prw-tl-rows").bounding_box()["height"] <= 330
    widget.get_by_test_id("prw-timeline-group-1").click()
    _wait(lambda: widget.locator(".prw-tl-row").count() == 3, 10, "the group folded again")

    # 10: the search box selects a step by name (keyboard only), opens its group and its pane
    search = widget.get_by_test_id("prw-search")
    search.click()
    search.type("part-42")
    search.press("Enter")
    listed = widget.get_by_test_id(f"prw-group-step-{RunLayout.node_id('part-42')}")
    _wait(lambda: "prw-group-step-on" in (listed.get_attribute("class") or ""), 10,
          "part-42 marked in its group")
    assert widget.get_by_test_id("prw-group-panel").is_visible()
    assert "prw-selected" in (group.get_attribute("class") or "")
    detail = widget.get_by_test_id("prw-detail")
    _wait(lambda: "part-42" in detail.inner_text(), 30, "the step's pane")
    search.fill("nothing like it")
    search.press("Enter")
    assert "No step matches" in widget.locator(".prw-search-note").inner_text()
    search.fill("")

    # screenshots: light and dark, 700 and 330 px, after Fit, with part-42's group listed
    for theme in ("light", "dark"):
        if theme == "dark":
            choose_theme(page, "JupyterLab Dark")
        try:
            for width in (700, 330):
                _set_width(widget, width)
                widget.get_by_role("button", name="Fit the whole graph").click()
                widget.scroll_into_view_if_needed()
                widget.locator(".prw-graph-wrap").screenshot(
                    path=str(artifacts_dir / f"scale-graph-{width}-{theme}.png"))
                widget.screenshot(path=str(artifacts_dir / f"scale-pipeline-{width}-{theme}.png"))
        finally:
            _set_width(widget, None)
            if theme == "dark":
                choose_theme(page, "JupyterLab Light")
