""""No such artifact" is absent, not an outage, on every server of the matrix (3.x answers 404,
2.x 500 ``No such file or directory``); a server that cannot read its artifact store is an error
on logs and outputs only, in the server's words, while status, details and widgets work."""

from __future__ import annotations

import io

import pytest

from steprun_widgets import Experiment, PipelineRun, StepRunWidget, Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.waiting import wait_for_runs
from steprun_widgets.errors import ArtifactStoreError
from tests.mlflow_server import MlflowServer, free_port
from tests.runlayout import RunLayout
from tests.servers.helpers import recording
from tests.support import watch_widget

pytestmark = pytest.mark.servers


def _finished_pipeline(runs: RunLayout, with_logs: bool):
    pipe = runs.pipeline(steps=["a", "b"], status=layout.FINISHED)
    a = runs.step(pipe, "a", status=layout.FINISHED)
    runs.step(pipe, "b", status=layout.FINISHED)
    if with_logs:
        runs.log(a, "stdout", "a says hi\n")
    return pipe, a


def test_a_missing_log_reads_as_empty_at_once(experiment_name, runs, workspace):
    pipe, a = _finished_pipeline(runs, with_logs=False)
    step = PipelineRun(Experiment(workspace, experiment_name), pipe.run_id).get_step("a")
    before = workspace.transport.request_count
    with recording(workspace) as answers:
        assert step.get_stdout_log() == ""
        assert step.get_stderr_log() == ""
    # One request per log, no retry of the server's "no such file" (a 500 on 2.x).
    assert workspace.transport.request_count - before == 2
    assert len(answers.seen) == 2 and {s for _, _, s in answers.seen} <= {404, 500}
    assert step.get_details_with_logs()["logFiles"] == dict.fromkeys(layout.LOG_FILES.values(), "")
    assert workspace.rest.read_tail(step._record(), layout.LOG_FILES["stderr"], 100) == b""


def test_wait_on_a_finished_pipeline_returns_after_one_refresh(experiment_name, runs, workspace):
    pipe, _ = _finished_pipeline(runs, with_logs=True)
    run = PipelineRun(Experiment(workspace, experiment_name), pipe.run_id)
    out = io.StringIO()
    with recording(workspace) as answers:
        assert wait_for_runs(run, None, True, 120, True, out=out) == layout.FINISHED
    assert "Lost the connection" not in out.getvalue() and "[a] a says hi" in out.getvalue()
    kinds = answers.by_kind()
    # One refresh: the pipeline, its steps, stdout and stderr of both steps.
    assert (kinds["get"], kinds["search"], kinds["read"]) == (1, 1, 4), kinds


def test_widget_of_a_step_without_logs(experiment_name, runs, workspace):
    pipe, _ = _finished_pipeline(runs, with_logs=False)
    step = PipelineRun(Experiment(workspace, experiment_name), pipe.run_id).get_step("b")
    widget = StepRunWidget(step, poll=False)
    try:
        assert widget.status == layout.FINISHED and widget.connection == "ok" and widget.error == ""
        assert all(state["tail"] == "" for state in widget.logs.values())
        assert widget.outputs == []
    finally:
        widget.close()


# --- an artifact store the server cannot read ---------------------------------------------------
@pytest.fixture(scope="module")
def storeless_server(tmp_path_factory):
    """A server that proxies artifacts it keeps in an S3 bucket it cannot reach (nothing listens
    there). (A server that does not proxy has the client reach the store: test_artifact_stores.)"""
    server = MlflowServer(
        tmp_path_factory.mktemp("storeless"),
        args=("--artifacts-destination", "s3://steprun-test/root"),
        env={"MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
             "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
             "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}).start()
    yield server
    server.stop()


def test_unreadable_store_fails_logs_and_outputs_only(storeless_server, experiment_name):
    workspace = Workspace(storeless_server.url)
    runs = RunLayout(workspace, experiment_name)
    pipe = runs.pipeline(steps=["mine"], status=layout.FINISHED)
    mine = runs.step(pipe, "mine", status=layout.FINISHED)
    other = runs.foreign_run("theirs", parent=pipe, status=layout.FINISHED)
    run = PipelineRun(Experiment(workspace, experiment_name), pipe.run_id)
    steps = {s.name: s for s in run.get_steps()}
    assert set(steps) == {"mine", "theirs"}
    for step in steps.values():
        assert step.get_status() == layout.FINISHED
        with pytest.raises(ArtifactStoreError, match=r"could not read the artifact store of run "
                           rf"'{step.id}'.*HTTP 500") as info:
            step.get_stdout_log()
        assert step._record().artifact_uri in str(info.value) or step.id == other.run_id
        with pytest.raises(ArtifactStoreError, match=step.id):
            step.get_outputs()
    details = steps["theirs"].get_details()  # lists logs/: fails, the details do not
    assert details["status"] == layout.FINISHED and details["logFiles"] == {}
    assert "could not read the artifact store" in details["artifactsError"]
    assert steps["mine"].get_details()["runId"] == mine.run_id

    out = io.StringIO()
    assert wait_for_runs(run, None, True, 120, True, out=out) == layout.FINISHED
    text = out.getvalue()
    assert "Lost the connection" not in text
    assert "[logs of mine cannot be read:" in text and "[logs of theirs cannot be read:" in text

    widget, browser = watch_widget(steps["theirs"])
    try:
        assert widget.status == layout.FINISHED and widget.connection == "ok"
        assert "could not read the artifact store" in widget.error
        widget._list_outputs()  # the view's "List outputs" (on this thread): said beside the button
        said = browser.of("list_outputs_error")
        assert len(said) == 1 and "could not read the artifact store" in said[0]["message"], said
        assert widget.outputs_on_request and widget.outputs == []  # still offered
    finally:
        widget.close()
    workspace.transport.close()
