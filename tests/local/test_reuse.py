"""Reuse: an identical resubmission runs nothing; a changed script re-runs itself and what follows."""

from __future__ import annotations

import pytest

from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PythonScriptStep
from tests.local.helpers import copy_sample, sample_module, write_script


@pytest.fixture
def sink() -> str:
    """Reuse does not depend on how logs ship: the embedded default only."""
    return "append"


def finished(run) -> None:
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED


def test_identical_resubmission_runs_nothing(experiment, tmp_path):
    root = copy_sample(tmp_path / "sample")
    build = sample_module().build_pipeline
    first = experiment.submit(build(experiment.workspace, root=root, rows=50))
    finished(first)
    originals = first.steps_in_graph_order()
    stdout_before = originals[1].get_stdout_log()

    second = experiment.submit(build(experiment.workspace, root=root, rows=50))
    finished(second)

    assert [s.name for s in second.get_steps()] == ["evaluate", "train", "prep"]  # Azure ML's order
    steps = second.steps_in_graph_order()
    assert [s.name for s in steps] == ["prep", "train", "evaluate"]
    assert [s.id for s in steps] == [s.id for s in originals]
    assert all(s._is_reused for s in steps)
    assert all(s._reused_pipeline_run_id == first.id for s in steps)
    assert [s._current_node_id for s in steps] == [s.node_id for s in originals]
    # the new pipeline has runs of its own that point at the originals
    records = second.step_records()
    assert {r.tags[layout.TAG_REUSED_RUN_ID] for r in records} == {s.id for s in originals}
    assert not {r.run_id for r in records} & {s.id for s in originals}
    # nothing ran again: the originals' logs did not grow, outputs are the originals'
    assert steps[1].get_stdout_log() == stdout_before
    assert set(steps[2].get_outputs()) == {"metrics"}
    assert second.find_step_run("evaluate")[0].id == originals[2].id


def test_changed_script_reruns_it_and_downstream_only(experiment, tmp_path):
    root = copy_sample(tmp_path / "sample")
    build = sample_module().build_pipeline
    first = experiment.submit(build(experiment.workspace, root=root, rows=50))
    finished(first)
    before = {s.name: s.id for s in first.get_steps()}

    script = root / "train" / "train.py"
    script.write_text(script.read_text().replace("epochs = 10", "epochs = 3"))
    second = experiment.submit(build(experiment.workspace, root=root, rows=50))
    finished(second)

    steps = {s.name: s for s in second.get_steps()}
    assert steps["prep"]._is_reused and steps["prep"].id == before["prep"]
    for name in ("train", "evaluate"):
        assert not steps[name]._is_reused and steps[name].id != before[name], name
    assert "epoch  3/3" in steps["train"].get_stdout_log()
    # downstream of the reused step read the original's output (downloaded from its run)
    assert f"from run {before['prep']}" in steps["train"].get_job_log()

    # a third identical submission reuses the new train/evaluate and the old prep
    third = experiment.submit(build(experiment.workspace, root=root, rows=50))
    finished(third)
    assert {s.name: s.id for s in third.get_steps()} == {n: s.id for n, s in steps.items()}
    assert all(s._is_reused for s in third.get_steps())


def test_allow_reuse_false_always_runs(experiment, tmp_path):
    src = write_script(tmp_path / "src", "hello.py", "print('hello')\n")

    def submit():
        return experiment.submit(Pipeline(experiment.workspace, [
            PythonScriptStep("hello.py", name="hello", source_directory=src, allow_reuse=False)]))

    runs = [submit(), submit()]
    for run in runs:
        finished(run)
    first, second = (run.get_steps()[0] for run in runs)
    assert not first._is_reused and not second._is_reused
    assert first.id != second.id
    assert second.get_stdout_log() == "hello\n"
