"""Data flows through the three steps of the sample pipeline; steps, outputs and downloads work."""

from __future__ import annotations

import json

from steprun_widgets import PipelineRun, StepRun
from steprun_widgets.core import layout
from tests.local.helpers import copy_sample, sample_module


def expected_metrics(root) -> dict:
    """What the sample's scripts compute, run here directly on the same code."""
    import runpy
    import sys

    folders = {name: root / "expected" / name for name in ("dataset", "model", "metrics")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    argvs = [("prep", [folders["dataset"], "60"]), ("train", [folders["dataset"], folders["model"]]),
             ("evaluate", [folders["dataset"], folders["model"], folders["metrics"]])]
    saved = sys.argv
    try:
        for step, args in argvs:
            sys.argv = [f"{step}.py", *map(str, args)]
            runpy.run_path(str(root / step / f"{step}.py"), run_name="__main__")
    finally:
        sys.argv = saved
    return json.loads((folders["metrics"] / "metrics.json").read_text())


def test_data_flows_through_three_steps(experiment, tmp_path, capsys):
    root = copy_sample(tmp_path / "sample")
    pipeline = sample_module().build_pipeline(experiment.workspace, root=root, rows=60)

    run = experiment.submit(pipeline)

    assert isinstance(run, PipelineRun)
    assert run.wait_for_completion(show_output=True, timeout_seconds=120) == layout.FINISHED
    shown = capsys.readouterr().out
    assert "[train] train: epoch 10/10" in shown  # the visible log of the middle step
    # a step's last lines come before the line that says it ended
    assert shown.index("[train] train: wrote ") < shown.index("StepRun(train) Status: Finished")

    assert [s.name for s in run.get_steps()] == ["evaluate", "train", "prep"]  # Azure ML's order
    steps = run.steps_in_graph_order()
    assert [s.name for s in steps] == ["prep", "train", "evaluate"]
    assert all(isinstance(s, StepRun) and not s._is_reused for s in steps)
    assert [s.get_status() for s in steps] == [layout.FINISHED] * 3
    assert len({s.id for s in steps} | {run.id}) == 4

    evaluate = run.find_step_run("evaluate")[0]
    assert evaluate.id == steps[2].id
    assert run.find_step_run("nope") == []
    assert set(evaluate.get_outputs()) == {"metrics"}

    metrics = evaluate.get_output_data("metrics")
    target = metrics.download(local_path=tmp_path / "dl", show_progress=False)
    got = json.loads((tmp_path / "dl" / metrics.path_on_datastore / "metrics.json").read_text())
    assert target.endswith("metrics")
    assert got == expected_metrics(tmp_path / "sample")
    assert got["rows"] == 60 and 0.9 < got["r2"] <= 1

    # the upstream outputs are on the server too, byte for byte what downstream steps read
    prep = run.find_step_run("prep")[0]
    prep.get_output_data("dataset").download(local_path=tmp_path / "dl", show_progress=False, flat=True)
    expected_csv = (tmp_path / "sample" / "expected" / "dataset" / "data.csv").read_bytes()
    assert (tmp_path / "dl" / "dataset" / "data.csv").read_bytes() == expected_csv
    assert "train: 60 rows" in run.find_step_run("train")[0].get_stdout_log()

    # Azure ML v1's documented usage, as written: a PipelineRun opened by id from another Experiment object
    from steprun_widgets import Experiment

    again = PipelineRun(Experiment(experiment.workspace, experiment.name), run.id)
    assert again.get_status() == layout.FINISHED
    assert [s.id for s in again.steps_in_graph_order()] == [s.id for s in steps]
