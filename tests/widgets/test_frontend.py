"""The frontend code in the widgets' models: whole in one widget per bundle, a small loader else."""

from __future__ import annotations

import json

import pytest

from steprun_widgets import Experiment, PipelineRunWidget, StepRunWidget, Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PythonScriptStep
from steprun_widgets.widgets import frontend
from steprun_widgets.widgets.display import STATIC
from steprun_widgets.widgets.frontend import MESSAGE
from tests.support import Recorder

LOADER_MAX = 5000


@pytest.fixture(scope="module")
def finished_run(tracking_uri, tmp_path_factory):
    src = tmp_path_factory.mktemp("frontend-src")
    (src / "hello.py").write_text("print('hello')\n", encoding="utf-8")
    ws = Workspace(tracking_uri)
    step = PythonScriptStep("hello.py", name="hello", source_directory=src, allow_reuse=False)
    run = Experiment(ws, "frontend").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED
    return run


@pytest.fixture(autouse=True)
def fresh_page(monkeypatch):
    """No carrier yet, as in a new kernel: earlier tests' widgets may still be alive."""
    monkeypatch.setattr(frontend, "_carriers", {})


def _spec(esm: str) -> dict:
    """The {name, hash, js, css} the kernel put in a loader."""
    start = esm.index("{", esm.index("var ") if "var " in esm else 0)
    return json.JSONDecoder().raw_decode(esm[start:])[0]


def test_one_widget_carries_the_code_the_others_a_loader(finished_run):
    step_run = finished_run.find_step_run("hello")[0]
    first, second = (StepRunWidget(step_run, poll=False) for _ in range(2))
    try:
        code = (STATIC / "step_widget.js").read_text(encoding="utf-8")
        css = (STATIC / "step_widget.css").read_text(encoding="utf-8")
        carried, loader = _spec(first._esm), _spec(second._esm)
        assert (carried["js"], carried["css"]) == (code, css)
        assert loader["js"] is None and loader["hash"] == carried["hash"]
        assert len(second._esm.encode()) <= LOADER_MAX
        assert first._css == second._css == ""
        assert "</script" not in first._esm.lower()
        # Another bundle has its own carrier.
        pipeline = PipelineRunWidget(finished_run, poll=False)
        assert _spec(pipeline._esm)["js"] == (STATIC / "pipeline_widget.js").read_text(encoding="utf-8")
        pipeline.close()
    finally:
        first.close()
    # The carrier closed: its model is gone from the page and from saved state; the next one carries.
    third = StepRunWidget(step_run, poll=False)
    try:
        assert _spec(third._esm)["js"] == code
        fourth = StepRunWidget(step_run, poll=False)
        assert _spec(fourth._esm)["js"] is None
        fourth.close()
    finally:
        second.close()
        third.close()


def test_a_loader_without_code_on_its_page_gets_it_from_the_kernel(finished_run):
    step_run = finished_run.find_step_run("hello")[0]
    carrier, widget = (StepRunWidget(step_run, poll=False) for _ in range(2))
    try:
        recorder = Recorder()
        widget.send = recorder
        widget._handle_custom_msg({"type": MESSAGE}, [])  # what ipywidgets calls for a custom message
        [reply] = [m for m in recorder.messages if m.get("type") == MESSAGE]
        assert reply["hash"] == _spec(widget._esm)["hash"]
        assert reply["js"] == (STATIC / "step_widget.js").read_text(encoding="utf-8")
        assert reply["css"] == (STATIC / "step_widget.css").read_text(encoding="utf-8")
    finally:
        carrier.close()
        widget.close()
