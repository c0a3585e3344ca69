"""Static snapshots (to_html, save_html, the display bundle) and RunDetails, on real runs."""

from __future__ import annotations

import pytest

from steprun_widgets import Experiment, PipelineRunWidget, RunDetails, StepRunWidget, Workspace
from steprun_widgets.core import layout
from steprun_widgets.errors import StepRunError
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep
from steprun_widgets.widgets.step_view import StepPane

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture(scope="module")
def finished_run(tracking_uri, tmp_path_factory):
    src = tmp_path_factory.mktemp("snapshot-src")
    (src / "make.py").write_text(
        "import sys, pathlib\n"
        f"print({HOSTILE!r})\n"
        "print('\\x1b[32mgreen\\x1b[0m done')\n"
        "pathlib.Path(sys.argv[1], 'a.txt').write_text('x' * 2048)\n", encoding="utf-8")
    (src / "use.py").write_text("import sys\nprint('used', sys.argv[1])\n", encoding="utf-8")
    data = PipelineData("data")
    ws = Workspace(tracking_uri)
    steps = [PythonScriptStep("make.py", name="make", arguments=[data], outputs=[data], source_directory=src,
                              allow_reuse=False),
             PythonScriptStep("use.py", name="use", arguments=[data], inputs=[data], source_directory=src,
                              allow_reuse=False)]
    run = Experiment(ws, "snapshots").submit(Pipeline(ws, steps))
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED
    return run


def test_step_snapshot_is_static_and_escapes_server_text(finished_run, tmp_path):
    widget = StepRunWidget(finished_run.find_step_run("make")[0], poll=False)
    html = widget.to_html()
    assert "<script" not in html and "<img" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;" in html
    assert "green done" in html and "\x1b" not in html  # ANSI codes stripped from the snapshot
    assert "Finished" in html and "2.0 KiB" in html and "make" in html
    data, _ = widget._repr_mimebundle_()
    assert data["text/html"] == html and "application/vnd.jupyter.widget-view+json" in data
    page = widget.save_html(tmp_path / "step.html")
    text = (tmp_path / "step.html").read_text(encoding="utf-8")
    assert page.endswith("step.html") and text.startswith("<!DOCTYPE html>") and html in text
    assert not list(tmp_path.glob(".*.part"))


def test_pipeline_widget_state_and_snapshot(finished_run):
    widget = PipelineRunWidget(finished_run, poll=False)
    assert widget.status == layout.FINISHED
    assert [n["name"] for n in widget.graph["nodes"]] == ["make", "use"]
    assert len(widget.graph["edges"]) == 1
    assert [s["status"] for s in widget.steps] == [layout.FINISHED, layout.FINISHED]
    assert all(s["start_time"] and s["end_time"] for s in widget.steps)
    html = widget.to_html()
    assert "<script" not in html and "make" in html and "use" in html and "2 Finished" in html

    node = widget.steps[1]["node_id"]
    widget.selected = node
    pane = widget.selected_step  # the step's view, served on the pipeline widget's own model
    assert isinstance(pane, StepPane) and pane.name == "use" and pane.node_id == node
    state = widget.get_state()
    assert state["pane"]["node_id"] == node and state["pane"]["status"] == layout.FINISHED
    assert state["pane_logs"]["logs"]["stdout"]["tail"].startswith("used ")
    assert "selected_step" not in state
    widget.selected = ""
    assert widget.selected_step is None and widget.pane == {} and widget.pane_logs == {}
    widget.selected = node
    assert widget.selected_step is pane  # one view per node, made once


def test_clicking_steps_opens_no_widget_model(finished_run):
    """A click serves the step on the pipeline's own model: no comm, no model in a saved notebook."""
    from ipywidgets.widgets.widget import _instances  # every live widget model, by model id

    widget = PipelineRunWidget(finished_run, poll=False)
    models = len(_instances)
    for _ in range(3):
        for step in widget.steps:
            widget.selected = step["node_id"]
            assert widget.selected_step is not None and widget.selected_step.watch.final
            assert widget.pane["name"] == step["name"]
    assert len(_instances) == models
    widget.selected = ""
    widget.close()


def test_pipeline_widget_polls_with_two_requests(finished_run):
    widget = PipelineRunWidget(finished_run, poll=False)
    transport = finished_run.workspace.transport
    before = transport.request_count
    widget._on_poll()
    assert transport.request_count - before == 2  # runs/get of the pipeline + one runs/search


def test_run_details_picks_the_widget(finished_run):
    assert isinstance(RunDetails(finished_run, poll=False).widget, PipelineRunWidget)
    step = finished_run.get_steps()[0]
    details = RunDetails(step, poll=False)
    assert isinstance(details.widget, StepRunWidget)
    assert "text/html" in details._repr_mimebundle_()[0]
    with pytest.raises(StepRunError, match="PipelineRun or a StepRun"):
        RunDetails("not a run")
