"""Why each step ran or was reused: recorded at submission, explained before and after a run."""

from __future__ import annotations

import json

import pytest

from steprun_widgets import PipelineRun, PipelineRunWidget
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PipelineData, PipelineParameter, PythonScriptStep, reuse_key
from tests.local.helpers import write_script
from tests.runlayout import RunLayout
from tests.widgets.github_sanitizer import tables

PREP = """
import sys, pathlib
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
(out / "rows.txt").write_text("1\\n2\\n3\\n")
"""
TRAIN = """
import sys, pathlib
data, lr, out = sys.argv[1], sys.argv[3], pathlib.Path(sys.argv[4])
rows = (pathlib.Path(data) / "rows.txt").read_text().split()
scale = 1
out.mkdir(parents=True, exist_ok=True)
(out / "model.txt").write_text(f"{lr} {scale * len(rows)}\\n")
"""
EVALUATE = """
import sys, pathlib
print((pathlib.Path(sys.argv[1]) / "model.txt").read_text())
"""


@pytest.fixture
def sink() -> str:
    """The decision does not depend on how logs ship: the embedded default only."""
    return "append"


def finished(run) -> None:
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED


def build(workspace, root, lr, seed=None) -> Pipeline:
    data, model = PipelineData("data"), PipelineData("model")
    seed_args = ["--seed", seed] if seed is not None else []
    return Pipeline(workspace, [
        PythonScriptStep("prep.py", name="prep", arguments=[data], outputs=[data],
                         source_directory=root / "prep"),
        PythonScriptStep("train.py", name="train", arguments=[data, "--lr", lr, model, *seed_args],
                         inputs=[data], outputs=[model], source_directory=root / "train"),
        PythonScriptStep("evaluate.py", name="evaluate", arguments=[model], inputs=[model],
                         source_directory=root / "evaluate"),
    ])


def sources(root):
    write_script(root / "prep", "prep.py", PREP)
    write_script(root / "train", "train.py", TRAIN)
    write_script(root / "evaluate", "evaluate.py", EVALUATE)


def test_explain_names_the_changed_line_and_argument_before_and_after(experiment, tmp_path):
    root = tmp_path / "src"
    sources(root)
    ws = experiment.workspace
    assert build(ws, root, "0.1").explain_reuse(experiment) == {
        "prep": "ran: no earlier run", "train": "ran: no earlier run", "evaluate": "ran: no earlier run"}
    assert ws.rest.get_experiment_by_name(experiment.name) is None  # the dry run created nothing

    first = experiment.submit(build(ws, root, "0.1"))
    finished(first)
    assert first.explain_reuse() == {
        "prep": "ran: no earlier run", "train": "ran: no earlier run", "evaluate": "ran: no earlier run"}
    ids = {s.name: s.id for s in first.get_steps()}

    script = root / "train" / "train.py"
    script.write_text(script.read_text().replace("scale = 1", "scale = 2"))
    pipeline = build(ws, root, "0.01")
    before = pipeline.explain_reuse(experiment)
    runs_before = ws.rest.search_runs([first._record().experiment_id])
    second = experiment.submit(pipeline)
    finished(second)
    after = second.explain_reuse()

    assert after == {
        "prep": f"reused run {ids['prep'][:8]}… of pipeline {first.id[:8]}…: same code, arguments "
                "and inputs",
        "train": f"ran: train.py changed (1 line); argument --lr 0.1 → 0.01 since run {ids['train'][:8]}…",
        "evaluate": f"ran: input 'model' changed because step 'train' ran since run {ids['evaluate'][:8]}…",
    }
    assert before == after
    assert len(runs_before) == 4  # the dry run made no run

    # the widget shows each reason (tooltip, step pane) and its static snapshot keeps them
    widget = PipelineRunWidget(second, poll=False)
    assert {s["name"]: s["why"] for s in widget.steps} == after
    (steps_table,) = [t for t in tables(widget.to_html()) if t[0][:2] == ["step", "status"]]
    why = steps_table[0].index("why")
    assert {row[0]: row[why] for row in steps_table[1:]} == after

    # the record is a small JSON artifact of the step's run in that pipeline, readable by any client
    train_record = next(r for r in second.step_records() if r.name == "train")
    body, _ = ws.rest.read_range(train_record, layout.REUSE_RECORD_PATH, 0)
    record = json.loads(body)
    assert record["decision"] == "ran" and record["compared_run"] == ids["train"]
    assert record["parts"]["arguments"] == [{"data": "data"}, "--lr", "0.01", {"data": "model"}]
    assert set(record["parts"]["files"]) == {"train.py"}
    assert "scale" not in body.decode()  # line hashes, not the source text


def test_explain_parameters_allow_reuse_added_argument_and_older_runs(experiment, tmp_path):
    src = write_script(tmp_path / "src", "hello.py", "import sys; print(sys.argv[1:])\n")
    ws = experiment.workspace
    lr = PipelineParameter("lr", default_value=0.1)

    def pipeline(extra=()):
        return Pipeline(ws, [
            PythonScriptStep("hello.py", name="hello", arguments=["--lr", lr, *extra], source_directory=src),
            PythonScriptStep("hello.py", name="always", arguments=["x"], source_directory=src,
                             allow_reuse=False)])

    first = experiment.submit(pipeline())
    finished(first)
    hello = first.get_step("hello").id
    changed = pipeline(["--more"]).explain_reuse(experiment, pipeline_parameters={"lr": 0.5})
    assert changed == {"hello": f"ran: parameter lr 0.1 → 0.5; arguments --lr 0.1 → --lr 0.5 --more "
                                f"since run {hello[:8]}…",
                       "always": "ran: allow_reuse=False"}
    assert pipeline().explain_reuse(experiment)["hello"].startswith(f"reused run {hello[:8]}…")
    assert pipeline().explain_reuse(experiment, regenerate_outputs=True)["hello"] == \
        "ran: regenerate_outputs=True"

    # a pipeline run laid out by an older version (no records) says so honestly
    runs = RunLayout(ws, experiment.name)
    old = runs.pipeline(steps=["a", "b"], status=layout.FINISHED)
    original = runs.step(old, "a", status=layout.FINISHED)
    runs.step(old, "b", status=layout.FINISHED)
    older = runs.pipeline(steps=["a"], status=layout.FINISHED)
    runs.reused_step(older, "a", original)
    no_record = {"a": "ran: no record of why (run made by an older version)",
                 "b": "ran: no record of why (run made by an older version)"}
    old_widget = PipelineRunWidget(PipelineRun(experiment, old.run_id), poll=False)
    assert {s["name"]: s["why"] for s in old_widget.steps} == no_record
    assert PipelineRun(experiment, old.run_id).explain_reuse() == no_record
    assert PipelineRun(experiment, older.run_id).explain_reuse() == {
        "a": f"reused run {original.run_id[:8]}… of pipeline {old.run_id[:8]}… (no record of its key: "
             "run made by an older version)"}


def test_source_files_hash_every_file_and_lines_of_small_text_files(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\ny = 2\n")
    (tmp_path / "big.txt").write_bytes(b"z\n" * (reuse_key.MAX_LINES_FILE_BYTES // 2 + 10))
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.pyc").write_bytes(b"ignored")
    files, complete = reuse_key.source_files(tmp_path)
    assert complete and sorted(files) == ["a.py", "big.txt", "blob.bin"]
    assert len(files["a.py"]["lines"]) == 2 and "lines" not in files["big.txt"]
    assert "lines" not in files["blob.bin"]
    assert files["big.txt"]["sha"] != files["blob.bin"]["sha"]
