"""PipelineRun and StepRun against a real MLflow server: every method of Azure ML v1's StepRun, the
status map, reused steps and runs written by other tools."""

from __future__ import annotations

import re
import time

import pytest

from steprun_widgets import (
    Experiment,
    PipelineRun,
    PortDataReference,
    StepRun,
    StepRunOutput,
    Workspace,
)
from steprun_widgets.core import layout
from steprun_widgets.errors import ServiceError

#: Also run against the oldest supported MLflow server (scripts/test.sh, the server matrix).
pytestmark = pytest.mark.servers

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
DETAIL_KEYS = {"runId", "status", "startTimeUtc", "endTimeUtc", "tags", "logFiles", "error"}


def test_azureml_v1_usage_snippet_works_as_written(workspace, runs, tmp_path, monkeypatch):
    pipe = runs.pipeline(steps=["prepare", "train"], edges=[("prepare", "train")])
    prepare = runs.step(pipe, "prepare", status=layout.FINISHED)
    runs.output(prepare, "prepared", {"data.csv": "a,b\n1,2\n", "meta/info.json": '{"rows": 1}'})
    runs.step(pipe, "train")
    monkeypatch.chdir(tmp_path)

    # Azure ML v1's documented snippet, with its placeholders filled in and nothing else changed.
    experiment = Experiment(workspace, runs.experiment_name)
    pipeline_run = PipelineRun(experiment, pipe.run_id)
    step_runs = pipeline_run.get_steps()
    step_run = pipeline_run.find_step_run("prepare")[0]
    step_run.get_output_data("prepared").download(local_path="path")

    assert [type(s) for s in step_runs] == [StepRun, StepRun]
    assert [s.name for s in step_runs] == ["train", "prepare"]  # Azure ML's order: newest first
    assert step_run.id == prepare.run_id
    got = tmp_path / "path" / "azureml" / prepare.run_id / "prepared"  # Azure ML's download layout
    assert (got / "data.csv").read_text() == "a,b\n1,2\n"
    assert (got / "meta" / "info.json").read_text() == '{"rows": 1}'


def test_pipeline_run_basics(experiment, runs):
    pipe = runs.pipeline(name="nightly", steps=["c", "a", "b"], edges=[("c", "a"), ("a", "b")])
    # Created out of graph order: get_steps() is Azure ML's order (newest-created first),
    # steps_in_graph_order() follows the graph.
    for name in ("a", "c", "b"):
        runs.step(pipe, name, status=layout.QUEUED)
        time.sleep(0.01)  # distinct creation times
    pipeline_run = PipelineRun(experiment, pipe.run_id)

    assert pipeline_run.id == pipe.run_id
    assert pipeline_run.name == "nightly"
    assert pipeline_run.get_status() == layout.RUNNING
    assert [s.name for s in pipeline_run.get_steps()] == ["b", "c", "a"]
    assert [s.name for s in pipeline_run.get_children()] == ["b", "c", "a"]
    steps = pipeline_run.steps_in_graph_order()
    assert [s.name for s in steps] == ["c", "a", "b"]
    assert all(s.pipeline_run_id == pipe.run_id for s in steps)
    assert [s.node_id for s in steps] == [runs.node_id(n) for n in ("c", "a", "b")]
    assert all(not s._is_reused for s in steps)
    assert pipeline_run.find_step_run("a")[0].node_id == runs.node_id("a")
    assert pipeline_run.find_step_run("no-such-step") == []
    assert pipeline_run.get_graph()["edges"] == [(runs.node_id("c"), runs.node_id("a")),
                                                 (runs.node_id("a"), runs.node_id("b"))]

    details = pipeline_run.get_details()
    assert set(details) >= DETAIL_KEYS
    assert details["runId"] == pipe.run_id
    assert details["status"] == layout.RUNNING
    assert ISO_UTC.match(details["startTimeUtc"])
    assert details["endTimeUtc"] is None
    assert details["tags"][layout.TAG_RUN_SOURCE] == layout.RUN_SOURCE_PIPELINE
    assert details["logFiles"] == {}
    assert details["error"] is None


def test_step_run_constructed_with_the_azureml_v1_signature(experiment, runs):
    pipe = runs.pipeline(steps=["s"])
    record = runs.step(pipe, "s")
    runs.log(record, "stdout", "hello\n")
    step = StepRun(experiment, record.run_id, pipe.run_id, runs.node_id("s"))
    assert (step.id, step.pipeline_run_id, step.node_id) == (record.run_id, pipe.run_id, runs.node_id("s"))
    assert step.name == "s"
    assert step._is_reused is False and step._current_node_id is None
    assert step.get_status() == layout.RUNNING
    assert step.get_stdout_log() == "hello\n"
    with pytest.raises(TypeError, match="unexpected"):
        StepRun(experiment, record.run_id, pipe.run_id, "n", bogus=1)


def test_child_run_complete_fail_are_not_supported(experiment, runs):
    pipe = runs.pipeline(steps=["s"])
    runs.step(pipe, "s")
    step = PipelineRun(experiment, pipe.run_id).find_step_run("s")[0]
    for call in (step.child_run, step.complete, step.fail):
        with pytest.raises(NotImplementedError, match="not supported for a StepRun"):
            call()
    with pytest.raises(NotImplementedError):
        step.child_run(name="x", run_id="y", outputs="z")
    assert step.get_status() == layout.RUNNING  # nothing was changed on the server


def test_logs_while_running_then_growing(experiment, runs):
    pipe = runs.pipeline(steps=["s"])
    record = runs.step(pipe, "s")
    step = PipelineRun(experiment, pipe.run_id).find_step_run("s")[0]
    # No log uploaded yet: empty strings, not errors.
    assert (step.get_stdout_log(), step.get_stderr_log(), step.get_job_log()) == ("", "", "")

    runs.log(record, "stdout", "epoch 1 ✓\n")
    runs.log(record, "stderr", "warning: lr high\n")
    runs.log(record, "job", "started step s\n")
    assert step.get_status() == layout.RUNNING
    assert step.get_stdout_log() == "epoch 1 ✓\n"
    assert step.get_stderr_log() == "warning: lr high\n"
    assert step.get_job_log() == "started step s\n"

    runs.log(record, "stdout", "epoch 1 ✓\nepoch 2 ✓\n")
    assert step.get_stdout_log() == "epoch 1 ✓\nepoch 2 ✓\n"
    assert step.get_stdout_log() == "epoch 1 ✓\nepoch 2 ✓\n"  # reading does not consume


def test_get_details_and_details_with_logs(experiment, runs):
    pipe = runs.pipeline(steps=["s"])
    record = runs.step(pipe, "s")
    runs.log(record, "stdout", "out ü\n")
    runs.log(record, "stderr", "Traceback: boom\n")
    runs.fail(record, "exit code 3: ValueError: boom")
    step = PipelineRun(experiment, pipe.run_id).find_step_run("s")[0]

    details = step.get_details()
    assert set(details) >= DETAIL_KEYS
    assert details["runId"] == record.run_id
    assert details["status"] == layout.FAILED
    assert ISO_UTC.match(details["startTimeUtc"]) and ISO_UTC.match(details["endTimeUtc"])
    assert details["startTimeUtc"] <= details["endTimeUtc"]
    assert details["tags"][layout.TAG_NODE_ID] == runs.node_id("s")
    assert details["logFiles"] == layout.LOG_FILES
    assert details["error"] == "exit code 3: ValueError: boom"

    with_logs = step.get_details_with_logs()
    assert set(with_logs) >= DETAIL_KEYS
    assert with_logs["logFiles"] == {
        layout.LOG_FILES["stdout"]: "out ü\n",
        layout.LOG_FILES["stderr"]: "Traceback: boom\n",
        layout.LOG_FILES["job"]: "",  # not written: empty, not an error
    }
    assert with_logs["error"] == details["error"]


def test_outputs(experiment, runs):
    pipe = runs.pipeline(steps=["s"])
    record = runs.step(pipe, "s", status=layout.FINISHED)
    runs.output(record, "model", {"weights.bin": b"\x00\x01\x02", "cfg/params.json": "{}"})
    runs.output(record, "report", {"index.html": "<p>ok</p>"})
    step = PipelineRun(experiment, pipe.run_id).find_step_run("s")[0]

    outputs = step.get_outputs()
    assert sorted(outputs) == ["model", "report"]
    assert all(isinstance(o, StepRunOutput) for o in outputs.values())
    model = step.get_output("model")
    assert model.name == "model"
    assert model.file_count == 2 and model.size == 5
    assert [f.path for f in model.files] == [layout.output_path("model") + "/cfg/params.json",
                                             layout.output_path("model") + "/weights.bin"]
    ref = step.get_output_data("model")
    assert isinstance(ref, PortDataReference)
    assert ref.name == "model" and ref.step_run.id == record.run_id
    assert model.get_port_data_reference().name == "model"


def test_status_map(experiment, runs):
    pipe = runs.pipeline(steps=["q", "ns", "r", "beat", "stale", "f", "x", "c"])
    made = {
        "q": runs.step(pipe, "q", status=layout.QUEUED),
        "ns": runs.step(pipe, "ns", status=layout.NOT_STARTED),
        "r": runs.step(pipe, "r", status=layout.RUNNING),
        "beat": runs.step(pipe, "beat", status=layout.RUNNING),
        "stale": runs.step(pipe, "stale", status=layout.RUNNING),
        "f": runs.step(pipe, "f", status=layout.FINISHED),
        "x": runs.fail(runs.step(pipe, "x"), "exit code 1"),
        "c": runs.step(pipe, "c", status=layout.CANCELED),
    }
    runs.heartbeat(made["beat"], age_seconds=1)
    runs.heartbeat(made["stale"], age_seconds=layout.HEARTBEAT_STALE_AFTER + 30)
    statuses = {s.name: s.get_status() for s in PipelineRun(experiment, pipe.run_id).get_steps()}
    assert statuses == {
        "q": layout.QUEUED, "ns": layout.NOT_STARTED, "r": layout.RUNNING, "beat": layout.RUNNING,
        "stale": layout.NOT_RESPONDING, "f": layout.FINISHED, "x": layout.FAILED, "c": layout.CANCELED,
    }
    assert set(statuses.values()) == {"Queued", "NotStarted", "Running", "NotResponding", "Finished",
                                      "Failed", "Canceled"}
    # get_status() asks the server every time.
    step = PipelineRun(experiment, pipe.run_id).find_step_run("r")[0]
    assert step.get_status() == layout.RUNNING
    runs.set_status(made["r"], layout.FINISHED)
    assert step.get_status() == layout.FINISHED


def test_pipeline_status_not_responding(experiment, runs):
    pipe = runs.pipeline(steps=[])
    runs.heartbeat(pipe, age_seconds=layout.HEARTBEAT_STALE_AFTER + 5)
    assert PipelineRun(experiment, pipe.run_id).get_status() == layout.NOT_RESPONDING
    runs.heartbeat(pipe, age_seconds=0)
    assert PipelineRun(experiment, pipe.run_id).get_status() == layout.RUNNING


def test_reused_step_is_the_original_run(experiment, runs):
    first = runs.pipeline(name="first", steps=["prep"], status=layout.FINISHED)
    original = runs.step(first, "prep")
    runs.log(original, "stdout", "computed once\n")
    runs.log(original, "job", "ran prep\n")
    runs.output(original, "table", {"t.csv": "x\n1\n"})
    original = runs.set_status(original, layout.FINISHED)

    second = runs.pipeline(name="second", steps=["prep2"])
    current = runs.reused_step(second, "prep2", original, node_id="node-current")

    steps = PipelineRun(experiment, second.run_id).get_steps()
    assert len(steps) == 1
    step = steps[0]
    assert step.id == original.run_id
    assert step.id != current.run_id
    assert step._is_reused is True and step.is_reused
    assert step._current_node_id == "node-current"
    assert step._reused_run_id == original.run_id
    assert step._reused_node_id == original.tags[layout.TAG_NODE_ID]
    assert step._reused_pipeline_run_id == first.run_id
    assert step.pipeline_run_id == second.run_id
    assert step.name == "prep2"
    assert step.get_status() == layout.FINISHED
    assert step.get_stdout_log() == "computed once\n"
    assert step.get_job_log() == "ran prep\n"
    assert list(step.get_outputs()) == ["table"]
    assert PipelineRun(experiment, second.run_id).find_step_run("prep2")[0].id == original.run_id


def test_runs_from_other_tools_without_layout_tags(experiment, runs, tmp_path):
    parent = runs.foreign_run(name="driver")
    child = runs.foreign_run(name="trainer", parent=parent)
    runs.foreign_run(name="bare", parent=parent, status=layout.FINISHED)
    runs.foreign_run(name="unrelated")  # not a child: not a step
    runs.artifact(child, f"{layout.LOGS_DIR}/stdout.log", "foreign out\n")
    runs.artifact(child, f"{layout.LOGS_DIR}/driver.txt", "driver says hi\n")
    runs.output(child, "model", {"w.bin": b"\x01" * 10, "sub/cfg.yaml": "a: 1\n"})

    pipeline_run = PipelineRun(experiment, parent.run_id)
    assert pipeline_run.get_status() == layout.RUNNING
    assert sorted(s.name for s in pipeline_run.get_steps()) == ["bare", "trainer"]
    step = pipeline_run.find_step_run("trainer")[0]
    assert step.id == child.run_id and not step._is_reused
    assert step.log_paths() == {"stdout": f"{layout.LOGS_DIR}/stdout.log",
                                "driver": f"{layout.LOGS_DIR}/driver.txt"}
    assert step.get_stdout_log() == "foreign out\n"
    assert step.get_stderr_log() == ""
    assert step.log_reader("driver").read_all() == "driver says hi\n"
    assert step.get_details()["logFiles"] == step.log_paths()
    assert step.get_details_with_logs()["logFiles"][f"{layout.LOGS_DIR}/driver.txt"] == "driver says hi\n"
    assert list(step.get_outputs()) == ["model"]
    folder = step.get_output_data("model").download(local_path=tmp_path, show_progress=False)
    assert (tmp_path / "azureml" / step.id / "model" / "sub" / "cfg.yaml").read_text() == "a: 1\n"
    assert folder == str(tmp_path / "azureml" / step.id / "model")

    empty = pipeline_run.find_step_run("bare")[0]
    assert empty.get_status() == layout.FINISHED
    assert (empty.get_stdout_log(), empty.get_outputs()) == ("", {})
    assert empty.get_details()["error"] is None


@pytest.mark.parametrize("graph", ["[]", "not json", '{"nodes": 5}'])
def test_pipeline_with_a_malformed_graph_tag_still_lists_its_steps(experiment, runs, graph):
    pipe = runs.pipeline(steps=["a"])
    runs.step(pipe, "a")
    runs.rest.set_tag(pipe.run_id, layout.TAG_GRAPH, graph)
    pipeline_run = PipelineRun(experiment, pipe.run_id)
    assert pipeline_run.get_graph() == {"nodes": [], "edges": []}
    assert [s.name for s in pipeline_run.get_steps()] == ["a"]


def test_a_graph_longer_than_one_tag_is_split_and_read_back_whole(experiment, runs):
    """A 200-step graph is ~20,000 characters; one tag value over 5,000 (MLflow 2.9) or 8,000
    (3.x) is refused or cut by set-tag and does not fit a PostgreSQL/MySQL server's column: the
    graph goes in chunks."""
    names = ["source", *(f"part-{i:03d}-ünï" for i in range(198)), "sink"]
    pipe = runs.pipeline(steps=[])
    nodes = [{"id": runs.node_id(n), "name": n} for n in names]
    edges = [(runs.node_id("source"), runs.node_id(n)) for n in names[1:-1]] + \
        [(runs.node_id(n), runs.node_id("sink")) for n in names[1:-1]]
    value = layout.encode_graph(nodes, edges, {edges[0]: ["data"]})
    tags = layout.graph_tags(value)
    assert len(tags) > 2 and all(len(v) <= layout.GRAPH_TAG_CHUNK for v in tags.values())
    try:  # why: as one tag, MLflow 2.9 refuses the graph and 3.x cuts it to 8,000 characters
        runs.rest.set_tag(pipe.run_id, layout.TAG_GRAPH, value)
        assert len(runs.rest.get_run(pipe.run_id).tags[layout.TAG_GRAPH]) < len(value)
    except ServiceError as exc:
        assert "length" in str(exc).lower() or "exceed" in str(exc).lower(), exc
    for key, chunk in tags.items():  # set-tag checks each value's length on every server version
        runs.rest.set_tag(pipe.run_id, key, chunk)
    graph = PipelineRun(experiment, pipe.run_id).get_graph()
    assert [n["name"] for n in graph["nodes"]] == names
    assert graph["edges"] == edges
    assert layout.graph_value(tags) == value and layout.graph_value({}) is None


def test_workspace_from_the_environment(tracking_uri, runs, monkeypatch):
    pipe = runs.pipeline(steps=[])
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9/not-this-one")
    monkeypatch.setenv("STEPRUN_TRACKING_URI", tracking_uri + "/")  # wins over MLFLOW_TRACKING_URI
    workspace = Workspace()
    assert workspace.tracking_uri == tracking_uri
    pipeline_run = PipelineRun(Experiment(workspace, runs.experiment_name), pipe.run_id)
    assert pipeline_run.get_status() == layout.RUNNING
    monkeypatch.delenv("STEPRUN_TRACKING_URI")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    assert Workspace().tracking_uri == tracking_uri


def test_a_foreign_file_directly_under_outputs_is_an_output(experiment, runs, tmp_path):
    parent = runs.foreign_run(name="driver")
    child = runs.foreign_run(name="trainer", parent=parent)
    runs.artifact(child, f"{layout.OUTPUTS_DIR}/metrics.json", '{"acc": 1}')
    step = PipelineRun(experiment, parent.run_id).find_step_run("trainer")[0]
    assert list(step.get_outputs()) == ["metrics.json"]
    output = step.get_output("metrics.json")
    assert (output.file_count, output.size) == (1, len('{"acc": 1}'))
    saved = step.get_output_data("metrics.json").download(local_path=tmp_path, show_progress=False)
    assert saved == str(tmp_path / "azureml" / step.id / "metrics.json")
    assert (tmp_path / "azureml" / step.id / "metrics.json").read_text() == '{"acc": 1}'
    flat = step.get_output_data("metrics.json").download(local_path=tmp_path, show_progress=False,
                                                         flat=True)
    assert flat == str(tmp_path / "metrics.json") and (tmp_path / "metrics.json").is_file()
