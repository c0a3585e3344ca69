"""Runs of another tool (MLflow's own Python client, no steprun tags), read with every public
StepRun/PipelineRun method and both widgets, on whichever server the matrix chose."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from steprun_widgets import (
    Experiment,
    PipelineRun,
    PipelineRunWidget,
    RunDetails,
    StepRun,
    StepRunWidget,
)
from steprun_widgets.core import layout
from steprun_widgets.core.waiting import wait_for_runs
from steprun_widgets.errors import ActivityFailedException, OutputNotFoundError
from tests.servers.helpers import make_other_tool_runs, recording
from tests.support import wait_until, watch_widget

pytestmark = pytest.mark.servers


def _pipeline(other_experiment, other_runs) -> PipelineRun:
    return PipelineRun(other_experiment, other_runs["pipeline"])


def test_pipeline_methods(other_experiment, other_runs):
    run = _pipeline(other_experiment, other_runs)
    assert run.id == other_runs["pipeline"]
    assert run.name == "other-pipeline"
    assert run.get_status() == layout.FINISHED
    steps = run.get_steps()
    assert sorted(s.name for s in steps) == ["empty", "prep", "train"]
    assert all(isinstance(s, StepRun) and s.pipeline_run_id == run.id for s in steps)
    assert {s.name: s.id for s in steps} == other_runs["children"]
    assert [s.id for s in run.find_step_run("prep")] == [other_runs["children"]["prep"]]
    assert run.find_step_run("nope") == []
    assert run.get_step("train").get_status() == layout.FAILED
    assert run.get_graph() == {"nodes": [], "edges": []}
    details = run.get_details()
    assert details["runId"] == run.id and details["status"] == layout.FINISHED
    assert details["endTimeUtc"] and details["logFiles"] == {} and details["artifactsError"] is None
    run.cancel()  # an ended run stays as it ended
    assert run.get_status() == layout.FINISHED


def test_step_logs_are_what_exists_under_logs(other_experiment, other_runs, workspace):
    run = _pipeline(other_experiment, other_runs)
    prep, train, empty = (run.get_step(n) for n in ("prep", "train", "empty"))
    with recording(workspace) as answers:
        assert prep.get_stdout_log() == "reading data\nprep done ✓\n"
        assert prep.get_stderr_log() == "a warning\n"
        assert prep.get_job_log() == ""
        assert train.get_stdout_log() == "" and train.get_stderr_log() == ""
        assert train.log_paths() == {"train": "logs/train.log"}
        assert train.log_reader("train").read_all() == "epoch 1\nTraceback: boom\n"
        assert empty.get_stdout_log() == empty.get_stderr_log() == empty.get_job_log() == ""
    # No default name is guessed: one listing per step, one read per existing log, no error.
    assert answers.errors() == []
    kinds = answers.by_kind()
    assert kinds["list"] == 3 and kinds["read"] == 3, kinds
    details = prep.get_details_with_logs()
    assert details["logFiles"] == {"logs/stdout.txt": "reading data\nprep done ✓\n",
                                   "logs/stderr.txt": "a warning\n"}
    assert empty.get_details_with_logs()["logFiles"] == {}
    assert prep.get_details()["status"] == layout.FINISHED


def test_step_outputs_and_downloads(other_experiment, other_runs, tmp_path):
    run = _pipeline(other_experiment, other_runs)
    prep, empty = run.get_step("prep"), run.get_step("empty")
    outputs = prep.get_outputs()
    assert sorted(outputs) == ["data.csv", "model"]
    assert prep.get_output("model").file_count == 2
    assert prep.get_output("data.csv").size == len(b"a,b\n1,2\n")
    written = prep.get_output_data("data.csv").download(local_path=tmp_path / "one", show_progress=False)
    assert Path(written).read_text() == "a,b\n1,2\n" and written.endswith("data.csv")
    folder = prep.get_output_data("model").download(local_path=tmp_path / "two", show_progress=False)
    assert (Path(folder) / "weights" / "w.bin").read_bytes() == bytes(range(256))
    assert folder == str(tmp_path / "two" / "azureml" / prep.id / "model")  # Azure ML's layout
    assert empty.get_outputs() == {}
    with pytest.raises(OutputNotFoundError, match="no output named 'model'.*outputs: none"):
        empty.get_output("model")


def test_step_status_waiting_and_unsupported_calls(other_experiment, other_runs):
    run = _pipeline(other_experiment, other_runs)
    prep, train = run.get_step("prep"), run.get_step("train")
    assert not prep.is_reused and prep.get_status() == layout.FINISHED
    out = io.StringIO()
    assert wait_for_runs(prep, [prep], True, 60, True, out=out) == layout.FINISHED
    assert "reading data" in out.getvalue() and "prep done ✓" in out.getvalue()
    assert prep.wait_for_completion(show_output=False) == layout.FINISHED
    with pytest.raises(ActivityFailedException, match=f"{train.id}"):
        train.wait_for_completion(show_output=False)
    assert train.wait_for_completion(show_output=False, raise_on_error=False) == layout.FAILED
    for call in (prep.child_run, prep.complete, prep.fail):
        with pytest.raises(NotImplementedError):
            call()


def test_finished_pipeline_wait_is_one_refresh(other_experiment, other_runs, workspace):
    run = _pipeline(other_experiment, other_runs)
    out = io.StringIO()
    with recording(workspace) as answers:
        assert wait_for_runs(run, None, True, 60, False, out=out) == layout.FINISHED
    text = out.getvalue()
    assert "Lost the connection" not in text
    assert "[prep] reading data" in text and "[train] Traceback: boom" in text
    assert answers.errors() == []
    kinds = answers.by_kind()
    # runs/get + runs/search, one listing per step, one read per existing log (prep 2, train 1).
    assert (kinds["get"], kinds["search"], kinds["list"], kinds["read"]) == (1, 1, 3, 3), kinds


def test_step_widget_kernel_side(other_experiment, other_runs, workspace):
    run = _pipeline(other_experiment, other_runs)
    prep = StepRunWidget(run.get_step("prep"), poll=False)
    assert prep.status == layout.FINISHED and prep.watch.final and prep.error == ""
    assert prep.logs["stdout"]["tail"] == "reading data\nprep done ✓\n"
    assert prep.logs["stderr"]["tail"] == "a warning\n"
    assert prep.outputs_on_request and prep.outputs == []  # listed when asked (next test)
    train = StepRunWidget(run.get_step("train"), poll=False)
    assert train.status == layout.FAILED and set(train.logs) == {"train"}
    empty = StepRunWidget(run.get_step("empty"), poll=False)
    assert empty.status == layout.FINISHED and empty.logs == {} and empty.outputs == []
    assert empty.connection == "ok"
    html = prep.to_html()
    assert "prep done ✓" in html and "not listed" in html
    for widget in (prep, train, empty):
        widget.close()


def test_step_view_lists_outputs_only_when_asked(other_experiment, other_runs, workspace):
    run = _pipeline(other_experiment, other_runs)
    step = run.get_step("prep")
    with recording(workspace) as answers:
        widget, browser = watch_widget(step)
    try:
        # One listing (its logs/) and one read per log; no outputs/ nor images/ listing.
        listed = [path for _, path, _ in answers.seen if path.endswith("/artifacts/list")]
        assert len(listed) == 1 and answers.by_kind()["read"] == 2, answers.seen
        assert widget.outputs_on_request and widget.outputs == []
        widget.refresh()  # an ended run: nothing more is read, and still no listing of outputs
        assert widget.outputs == [] and widget.outputs_on_request

        with recording(workspace) as answers:
            widget._handle_message(widget, {"type": "list_outputs"}, [])
            wait_until(lambda: not widget.outputs_on_request, 30, "the outputs listed")
        assert {o["name"]: (o["size"], o["file_count"], o["is_dir"]) for o in widget.outputs} == {
            "data.csv": (len(b"a,b\n1,2\n"), 1, False),
            "model": (len(b'{"layers": 2}') + 256, 2, True)}
        # outputs/, then model/ and model/weights/ (a lone file needs no listing of its own)
        assert answers.by_kind()["list"] == 3 and answers.errors() == [], answers.seen
        assert "data.csv" in widget.to_html() and "not listed" not in widget.to_html()

        with recording(workspace) as answers:
            widget._list_outputs()  # what a second message does, here on this thread
        assert answers.count == 0 and not browser.of("list_outputs_error")  # listed for good
    finally:
        widget.close()


def test_pipeline_widget_kernel_side(other_experiment, other_runs, workspace):
    run = _pipeline(other_experiment, other_runs)
    widget = PipelineRunWidget(run, poll=False)
    try:
        assert widget.status == layout.FINISHED and widget.watch.final
        statuses = {s["name"]: s["status"] for s in widget.steps}
        assert statuses == {"prep": layout.FINISHED, "train": layout.FAILED, "empty": layout.FINISHED}
        assert {n["name"] for n in widget.graph["nodes"]} == {"prep", "train", "empty"}
        node = next(s["node_id"] for s in widget.steps if s["name"] == "prep")
        widget.selected = node
        assert widget.selected_step is not None and widget.selected_step.name == "prep"
        assert widget.selected_step.logs["stdout"]["tail"].endswith("prep done ✓\n")
        assert widget.pane_logs["logs"]["stdout"]["tail"].endswith("prep done ✓\n")
        details = RunDetails(run)
        assert details.show() is None and isinstance(details.widget, PipelineRunWidget)
    finally:
        widget.close()


def test_more_children_than_one_search_page(workspace, tracking_uri, experiment_name):
    made = make_other_tool_runs(tracking_uri, experiment_name, plain_children=22)
    run = PipelineRun(Experiment(workspace, experiment_name), made["pipeline"])
    workspace.rest.search_page = 10  # 25 children: three pages, each asked for once
    with recording(workspace) as answers:
        steps = run.get_steps()
    assert sorted(s.id for s in steps) == sorted(made["children"].values())
    assert answers.by_kind()["search"] == 3
    widget = PipelineRunWidget(run, poll=False)
    try:
        assert len(widget.steps) == 25 and widget.status == layout.FINISHED
    finally:
        widget.close()


def test_a_running_run_of_another_tool_gains_logs(runs, workspace, experiment_name):
    pipe = runs.pipeline(steps=[])
    late = runs.foreign_run("late", parent=pipe)
    step = PipelineRun(Experiment(workspace, experiment_name), pipe.run_id).get_step("late")
    widget, browser = watch_widget(step)
    try:
        assert widget.logs == {} and widget.status == layout.RUNNING
        runs.artifact(late, "logs/stdout.txt", "it started late\n")
        widget.refresh()  # the run goes on: its logs/ is listed again
        assert widget.watch.logs["stdout"].total_bytes == len(b"it started late\n")
        assert browser.log_text("stdout") == "it started late\n"
        # "List outputs" while it runs lists what is there now; the end lists them again.
        runs.artifact(late, "outputs/early.txt", "x")
        assert widget.outputs_on_request
        widget._list_outputs()
        assert [(o["name"], o["size"]) for o in widget.outputs] == [("early.txt", 1)]
        assert not widget.outputs_on_request
        runs.artifact(late, "outputs/late.txt", "yy")
        runs.set_status(late, layout.FINISHED)
        widget.refresh()
        assert widget.watch.final and step.log_paths() == {"stdout": "logs/stdout.txt"}
        assert [(o["name"], o["size"]) for o in widget.outputs] == [("early.txt", 1), ("late.txt", 2)]
        out = io.StringIO()
        assert wait_for_runs(step, [step], True, 60, True, out=out) == layout.FINISHED
        assert "it started late" in out.getvalue()
    finally:
        widget.close()
