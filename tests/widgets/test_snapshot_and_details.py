"""Static snapshots (to_html, save_html, the display bundle) and RunDetails, on real runs."""

from __future__ import annotations

import re

import pytest

from steprun_widgets import Experiment, PipelineRunWidget, RunDetails, StepRunWidget, Workspace
from steprun_widgets.core import layout
from steprun_widgets.errors import StepRunError
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep
from steprun_widgets.widgets.graph_layout import layout_graph
from steprun_widgets.widgets.step_view import StepPane
from tests.widgets.github_sanitizer import sanitize, tables, text

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
#: A step name as another tool (or a hostile server) may report it: the test renames the step on
#: the server after the run.
HOSTILE_NAME = '<img src=x onerror="alert(3)">make'


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
    assert '<span style="color: #00aa00">green</span> done' in html and "\x1b" not in html  # ANSI colours
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
    assert widget.graph["edges"][0][2] == ["data"]  # the PipelineData that flows along it
    assert widget.name == "pipeline: make, use"
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


# --- the rich snapshot (graph, timeline, step view) ---------------------------------------------------
@pytest.fixture(scope="module")
def reused_runs(tracking_uri, tmp_path_factory):
    """The same pipeline run twice: a step with a hostile name, coloured and hostile log lines and
    an output; a step using that output; a step that fails with a hostile stderr line. The second
    run reuses the first two."""
    src = tmp_path_factory.mktemp("rich-src")
    (src / "make.py").write_text(
        "import sys, pathlib\n"
        "print('\\x1b[1;32mready\\x1b[0m \\x1b[31mred\\x1b[0m plain')\n"
        f"print({HOSTILE!r})\n"
        "pathlib.Path(sys.argv[1], 'a.txt').write_text('x' * 2048)\n", encoding="utf-8")
    (src / "use.py").write_text("import sys\nprint('used', sys.argv[1])\n", encoding="utf-8")
    (src / "boom.py").write_text(f"import sys\nprint({HOSTILE!r}, file=sys.stderr)\nsys.exit(3)\n",
                                 encoding="utf-8")
    ws = Workspace(tracking_uri)
    runs = []
    for _ in range(2):
        data = PipelineData("data")
        steps = [PythonScriptStep("make.py", name="make", arguments=[data], outputs=[data],
                                  source_directory=src),
                 PythonScriptStep("use.py", name="use", arguments=[data], inputs=[data],
                                  source_directory=src),
                 PythonScriptStep("boom.py", name="boom", source_directory=src, allow_reuse=False)]
        run = Experiment(ws, "rich-snapshots").submit(Pipeline(ws, steps))
        assert run.wait_for_completion(show_output=False, timeout_seconds=120,
                                       raise_on_error=False) == layout.FAILED
        runs.append(run)
    for run in runs:  # the server now names the step (in the graph and in the step run) with markup
        graph = layout.decode_graph(run._record(refresh=True).tags.get(layout.TAG_GRAPH))
        nodes = [{**n, "name": HOSTILE_NAME if n["name"] == "make" else n["name"]} for n in graph["nodes"]]
        run._rest.set_tag(run.id, layout.TAG_GRAPH, layout.encode_graph(nodes, graph["edges"]))
        for record in run.step_records():  # the step runs themselves (a reused step's too)
            if record.name == "make":
                run._rest.set_tag(record.run_id, layout.TAG_RUN_NAME, HOSTILE_NAME)
    return runs


def _graph_svg(html: str) -> str:
    start = html.index('<svg class="srw-svg srw-graph"')
    return html[start:html.index("</svg>", start)]


def test_pipeline_snapshot_draws_the_graph_timeline_and_reuse(reused_runs):
    first, second = reused_runs
    originals = {s.name: s.id for s in first.get_steps()}
    widget = PipelineRunWidget(second, poll=False)
    html = widget.to_html()
    assert "<script" not in html and "<img" not in html and 'onerror="' not in html

    svg = _graph_svg(html)
    assert svg.count("data-node-id=") == 3 and svg.count('fill="none" stroke=') == 1  # make -> use
    assert "&lt;img src=x onerror=&quot;alert(3)&quot;&gt;make" in svg  # the node's name, as text
    assert ">✖</text>" in svg and ">✔</text>" in svg and "stroke-dasharray" in svg  # failed, reused

    (steps_table,) = [t for t in tables(html) if t[0][:2] == ["step", "status"]]
    rows = {row[0]: row for row in steps_table[1:]}
    assert rows[HOSTILE_NAME][1] == "✔ Finished" and rows["boom"][1] == "✖ Failed"
    for name in (HOSTILE_NAME, "use"):  # the reuse column names the run (its whole id in the tooltip)
        assert rows[name][4] == f"♻ run {originals[name][:8]}…"
        assert f'<code title="{originals[name]}">{originals[name][:8]}…</code>' in html
    assert rows["boom"][4] == "–"
    assert "exit code 3" in rows["boom"][-1] and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    bars = re.findall(r'role="img" aria-label="((?:queued|ran|not run)[^"]*)"', html)
    assert len(bars) == 3 and all(re.search(r"\bran \d", b) for b in bars), bars  # a timeline bar per step

    # Where styles and SVG are stripped, the words stay, in the picture's reading order.
    clean = sanitize(html)
    assert "<svg" not in clean and "style=" not in clean and "<img" not in clean
    (clean_table,) = [t for t in tables(clean) if t[0][:2] == ["step", "status"]]
    names = {n["id"]: n["name"] for n in widget.graph["nodes"]}
    statuses = {s["node_id"]: s["status"] for s in widget.steps}
    icons = {layout.FINISHED: "✔", layout.FAILED: "✖"}
    assert [row[:2] for row in clean_table[1:]] == [
        [names[i], f"{icons[statuses[i]]} {statuses[i]}"] for i in layout_graph(widget.graph).order]
    assert "✖ Failed" in text(clean) and "✔ 2 Finished · ✖ 1 Failed · ♻ 2 reused" in text(clean)


def test_pipeline_snapshot_shows_the_open_step_view(reused_runs):
    widget = PipelineRunWidget(reused_runs[1], poll=False)
    node = next(s["node_id"] for s in widget.steps if s["name"] == HOSTILE_NAME)
    assert "Step view" not in widget.to_html()
    widget.selected = node
    html = widget.to_html()
    pane = html[html.index("Step view"):]
    assert '<pre class="srw-log"' in pane and "plain" in pane and "2.0 KiB" in pane


class _Handle:
    """Stands in for IPython's DisplayHandle of the companion output: keeps what it was given."""

    def __init__(self) -> None:
        self.html: list[str] = []

    def update(self, obj) -> None:
        self.html.append(obj.data)


def test_the_companion_follows_the_open_step_view(finished_run):
    """The saved notebook's snapshot shows the step opened after the run ended, and none once the
    view is closed (the companion was refreshed only when the pipeline's status changed)."""
    widget = PipelineRunWidget(finished_run, poll=False)
    widget._companion_handle = handle = _Handle()
    node = next(s["node_id"] for s in widget.steps if s["name"] == "use")
    widget.selected = node
    assert handle.html and "Step view" in handle.html[-1] and "used" in handle.html[-1]
    widget.selected = ""
    assert "Step view" not in handle.html[-1]
    widget.close()


def test_step_snapshot_colours_the_log_and_names_the_original(reused_runs):
    first, second = reused_runs
    original = first.find_step_run(HOSTILE_NAME)[0]
    widget = StepRunWidget(second.find_step_run(HOSTILE_NAME)[0], poll=False)
    html = widget.to_html()
    assert f"♻ reused results of run {original.id} (pipeline {first.id})" in html
    assert re.search(r'<span style="[^"]*font-weight: bold[^"]*">ready</span> '
                     r'<span style="color: #aa0000">red</span> plain', html)
    assert '<pre class="srw-log" style="font-family:ui-monospace' in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "<img" not in html and "<script" not in html and "\x1b" not in html
    assert "2.0 KiB" in html

    failed = StepRunWidget(second.find_step_run("boom")[0], poll=False)
    html = failed.to_html()
    assert failed.status == layout.FAILED and "alert(2)" in failed.error  # the stderr line is the error
    error = html[html.index('<div class="srw-err">'):]
    assert error.startswith('<div class="srw-err">✖ exit code 3') and "&lt;script&gt;alert(2)" in error
    assert "<script" not in html and "<img" not in html
    assert "✖ Failed" in text(sanitize(html))
