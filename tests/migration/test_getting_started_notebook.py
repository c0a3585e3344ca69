"""Microsoft's v1 getting-started pipeline notebook, ported with only its import lines and its
workspace/compute set-up cells changed, executed with nbclient against the session's server.

The notebook is ``aml-pipelines-getting-started.ipynb`` of Azure/MachineLearningNotebooks
(how-to-use-azureml/machine-learning-pipelines/intro-to-pipelines, MIT licence) and its step
scripts ``train/``, ``compare/``, ``extract/`` unchanged. It submits two pipelines and does not
wait for them (the sample's waiting cell is commented out): the test waits for them afterwards.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat

import steprun_widgets
from steprun_widgets import PipelineRun, Workspace
from steprun_widgets.core import layout
from tests.notebooks.helpers import execute, outputs, text
from tests.support import stop_leftovers

HERE = Path(__file__).parent / "getting_started"
NAME = "aml-pipelines-getting-started.ipynb"


def _pipeline_runs(ws: Workspace, experiment_name: str) -> list[PipelineRun]:
    experiment = ws.experiments[experiment_name]
    records = ws.rest.search_runs([experiment.id],
                                  f"tags.`{layout.TAG_RUN_SOURCE}` = '{layout.RUN_SOURCE_PIPELINE}'")
    return [PipelineRun(experiment, r.run_id) for r in records]


def test_getting_started_sample_runs_unchanged(tmp_path, tracking_uri):
    folder = tmp_path / "getting_started"
    shutil.copytree(HERE, folder, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    ws = Workspace(tracking_uri)
    try:
        nb = execute(folder / NAME, tracking_uri, store_widget_state=False, timeout=300)
        assert not outputs(nb, "error")
        printed = "".join(text(o.get("text")) for o in outputs(nb, "stream"))
        assert "Step1 created" in printed and "Pipeline is submitted for execution" in printed
        # extract_step's runconfig asks for Docker: the submission says it runs without one
        assert "Docker" in printed and "without a container" in printed
        assert "SDK version: " + steprun_widgets.VERSION in printed
        # RunDetails(run).show() as a cell's last line shows the widget once (show() returns None)
        shows = [c for c in nb.cells if c.cell_type == "code" and c.source.strip().startswith("RunDetails(")]
        assert len(shows) == 2
        for cell in shows:
            views = [o for o in cell.outputs
                     if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
            assert len(views) == 1, cell.source
        # the get_children() loop printed every step of the first pipeline with its status
        for name in ("train_step", "compare_step", "extract_step"):
            assert f"Script: {name} status:" in printed

        (run1,) = _pipeline_runs(ws, "Hello_World1")
        (run2,) = _pipeline_runs(ws, "Hello_World2")
        for run in (run1, run2):
            assert run.wait_for_completion(show_output=False, timeout_seconds=300) == layout.FINISHED
            assert {s.name: s.get_status() for s in run.get_steps()} == {
                "train_step": layout.FINISHED, "compare_step": layout.FINISHED,
                "extract_step": layout.FINISHED}
        # Hello_World2 lists only step3; run_after brought in step2 and step1, in sequence
        graph = run2.get_graph()
        ids = {n["name"]: n["id"] for n in graph["nodes"]}
        assert sorted(graph["edges"]) == sorted([(ids["train_step"], ids["compare_step"]),
                                                 (ids["compare_step"], ids["extract_step"])])
        assert run1.get_graph()["edges"] == []  # the first pipeline ran them in parallel
        # (whether Hello_World2 reused Hello_World1's steps depends on whether those had
        # finished when it was submitted: the sample does not wait in between)
        assert "In train.py" in run1.find_step_run("train_step")[0].get_stdout_log()
    finally:
        for name in ("Hello_World1", "Hello_World2"):
            if name in ws.experiments:
                stop_leftovers(ws.experiments[name])
        ws.transport.close()


def test_the_port_changes_only_imports_and_set_up():
    """The committed port: no outputs, and every code cell the set-up does not own is the sample's
    own code apart from import lines."""
    nb = nbformat.read(HERE / NAME, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")
    imports = [ln for c in code for ln in c.splitlines() if ln.startswith(("from ", "import "))]
    assert not [ln for ln in imports if "azureml" in ln]
    joined = "\n".join(code)
    for v1_line in ('step1 = PythonScriptStep(name="train_step",',
                    "run_config.environment.docker.enabled = True",
                    "run_config.environment.python.conda_dependencies = "
                    "CondaDependencies.create(conda_packages=['scikit-learn'])",
                    "pipeline1 = Pipeline(workspace=ws, steps=steps)",
                    "pipeline_run1 = Experiment(ws, 'Hello_World1').submit(pipeline1, "
                    "regenerate_outputs=False)",
                    "step_runs = pipeline_run1.get_children()",
                    "step2.run_after(step1)",
                    "pipeline2 = Pipeline(workspace=ws, steps=[step3])",
                    "RunDetails(pipeline_run2).show()"):
        assert v1_line in joined, v1_line
    assert json.loads(json.dumps(nb.metadata))["kernelspec"]["name"] == "python3"
