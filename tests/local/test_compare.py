"""steprun_widgets.compare on real runs: two pipeline runs, and two step runs, side by side."""

from __future__ import annotations

import re
import time

import pytest

from steprun_widgets import RunComparison, compare
from steprun_widgets.core import layout
from steprun_widgets.errors import StepRunError
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep
from tests.local.helpers import write_script
from tests.widgets.github_sanitizer import tables

TRAIN = """
import sys, pathlib
from steprun_widgets import Run
lr = float(sys.argv[2]); out = pathlib.Path(sys.argv[3])
run = Run.get_context()
for epoch in range(4):
    loss = 1.0 / (1 + epoch * lr * 10)
    print(f"epoch {epoch} loss {loss:.4f}")
    run.log("loss", loss)
run.log("accuracy", 0.9 if lr > 0.05 else 0.8)
out.mkdir(parents=True, exist_ok=True)
(out / "model.txt").write_text(f"lr={sys.argv[2]}\\n")
"""


@pytest.fixture
def sink() -> str:
    return "append"


def finished(run) -> None:
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED


@pytest.fixture
def two_runs(experiment, tmp_path):
    src = write_script(tmp_path / "src", "train.py", TRAIN)
    runs = []
    for lr in ("0.1", "0.01"):
        model = PipelineData("model")
        runs.append(experiment.submit(Pipeline(experiment.workspace, [
            PythonScriptStep("train.py", name="train", arguments=["--lr", lr, model], outputs=[model],
                             source_directory=src)])))
    for run in runs:
        finished(run)
    return runs


def test_two_pipeline_runs_and_two_step_runs_side_by_side(two_runs):
    first, second = two_runs
    widget = compare(first, second, poll=False)
    assert isinstance(widget, RunComparison) and not widget.live
    assert [r["id"] for r in widget.runs] == [first.id, second.id]
    assert [(s["name"], [c["status"] for c in s["cells"]], [c["reused"] for c in s["cells"]])
            for s in widget.steps] == [("train", ["Finished", "Finished"], [False, False])]
    # only the arguments differ (lr), listed first
    differing = [p for p in widget.params if p["differs"]]
    assert [p["name"] for p in differing] == [f"train/{layout.PARAM_ARGUMENTS}"]
    assert widget.params[0] is not None and widget.params[0]["differs"]
    assert all(not p["differs"] for p in widget.params[1:])
    # one chart per metric logged more than once, a series per run
    (chart,) = widget.charts
    assert chart["name"] == "train/loss" and [s["run"] for s in chart["series"]] == [0, 1]
    assert [len(s["points"]) for s in chart["series"]] == [4, 4]
    finals = widget.finals
    assert finals["names"] == ["train/accuracy", "train/loss"]
    assert finals["best"] == {"train/accuracy": 0, "train/loss": 0}  # lr 0.1 learns faster here
    (output,) = widget.outputs
    assert output["name"] == "train/model" and output["sizes"] == [7, 8] and output["differs"] is True
    assert widget.log_diff == {}

    html = widget.to_html()
    assert "<script" not in html
    assert len(re.findall(r"<polyline[^>]*stroke=\"#0969da\"", html)) == 1
    assert len(re.findall(r"<polyline[^>]*stroke=\"#cf222e\"", html)) == 1
    (params,) = [t for t in tables(html) if t[0][0] == "parameter"]
    assert params[1][0] == f"≠ train/{layout.PARAM_ARGUMENTS}"
    (finals_table,) = [t for t in tables(html) if t[0][0] == "run" and "train/loss" in t[0]]
    assert finals_table[1][1].startswith("★")

    # two step runs: the first stdout line that differs
    a, b = (run.get_step("train") for run in two_runs)
    widget = compare(a, b, poll=False)
    assert widget.log_diff == {"log": "stdout", "same": False, "line": 2,
                               "lines": ["epoch 1 loss 0.5000", "epoch 1 loss 0.9091"]}
    assert [s["name"] for s in widget.steps] == ["train"]
    assert "first differing stdout line" in widget.to_html()
    with pytest.raises(StepRunError, match="two or more runs"):
        compare(a)
    with pytest.raises(StepRunError, match="PipelineRun or StepRun"):
        compare(a, "not a run")


def test_a_sweep_of_many_step_runs_is_a_table_of_runs(experiment):
    from steprun_widgets import PipelineRun
    from steprun_widgets.core.compare import MANY_RUNS
    from tests.runlayout import RunLayout

    runs = RunLayout(experiment.workspace, experiment.name)
    count = MANY_RUNS + 2
    pipeline = runs.pipeline(steps=[f"t{i}" for i in range(count)], status=layout.FINISHED)
    for i in range(count):
        step = runs.step(pipeline, f"t{i}")
        params = {"lr": str(i / 100), "opt": "adam" if i % 2 else "sgd", "seed": "1"}
        runs.rest.log_params(step.run_id, params)
        runs.rest.transport.post_json("/api/2.0/mlflow/runs/log-batch", {"run_id": step.run_id, "metrics": [
            {"key": "loss", "value": v, "timestamp": 1_000 + k, "step": k}
            for k, v in enumerate((1.0, 1 / (i + 2)))]})
        runs.set_status(step, layout.FINISHED)
    steps = PipelineRun(experiment, pipeline.run_id).steps_in_graph_order()
    before = experiment.workspace.transport.request_count
    widget = compare(steps, poll=False)
    # no history, no output listing: one record read per run
    assert experiment.workspace.transport.request_count - before <= count + 2
    assert widget.charts == [] and widget.outputs == []
    sweep = widget.sweep
    assert [c["name"] for c in sweep["columns"]] == ["lr", "opt", "loss"]
    assert [c["numeric"] for c in sweep["columns"]] == [True, False, True]
    assert sweep["rows"][3] == [3, 0.03, "adam", 1 / 5]
    html = widget.to_html()
    (table,) = tables(html)  # one row per run, not a column per run
    assert table[0] == ["run", "status", "lr", "opt", "loss"] and len(table) == count + 1


def test_live_while_the_compared_runs_go_on(experiment, tmp_path):
    release = tmp_path / "release"
    src = write_script(tmp_path / "slow", "slow.py", """
        import pathlib, sys, time
        from steprun_widgets import Run
        run = Run.get_context()
        run.log("loss", 1.0)
        deadline = time.time() + 60
        while not pathlib.Path(sys.argv[1]).exists() and time.time() < deadline:
            time.sleep(0.1)  # the test releases the step once the comparison is live
        run.log("loss", 0.5)
        run.log("loss", 0.25)
    """)
    running = [experiment.submit(Pipeline(experiment.workspace, [
        PythonScriptStep("slow.py", name="train", arguments=[str(release)], source_directory=src,
                         allow_reuse=False)])) for _ in range(2)]
    widget = compare(*running)  # the kernel's poller refreshes it
    try:
        assert widget.live
        release.touch()
        for run in running:
            finished(run)
        deadline = time.monotonic() + 30
        while widget.live and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not widget.live
        assert [r["status"] for r in widget.runs] == ["Finished", "Finished"]
        (chart,) = widget.charts
        assert [len(s["points"]) for s in chart["series"]] == [3, 3]  # every value, once
    finally:
        widget.close()
