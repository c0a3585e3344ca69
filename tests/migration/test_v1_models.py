"""Azure ML v1's Model on MLflow's model registry: register, open, download, and use in a step."""

from __future__ import annotations

from pathlib import Path

import pytest

from steprun_widgets import Experiment, Model, Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.model import ModelError
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep
from tests.local.helpers import write_script

TRAIN = """
import os, sys
os.makedirs(sys.argv[1], exist_ok=True)
open(os.path.join(sys.argv[1], "model.txt"), "w").write("weights-v2")
"""

SCORE = """
from steprun_widgets import Model
path = Model.get_model_path(MODEL_NAME)
print("SCORE", open(path).read(), path.endswith("model.txt"))
"""


def test_register_open_download_and_get_model_path_in_a_step(workspace, tmp_path, monkeypatch):
    name = f"m-{tmp_path.name}"
    (tmp_path / "model.txt").write_text("weights-v1")
    first = Model.register(workspace, model_path=str(tmp_path / "model.txt"), model_name=name,
                           tags={"area": "demo"}, description="first")
    assert (first.name, first.version, first.id) == (name, 1, f"{name}:1")
    assert first.tags == {"area": "demo"}

    # a step's output registered from the notebook once the step has finished
    src = tmp_path / "src"
    write_script(src, "train.py", TRAIN)
    out = PipelineData("model")
    train = PythonScriptStep("train.py", name="train", source_directory=src, arguments=[out], outputs=[out])
    run = Experiment(workspace, f"mdl-{tmp_path.name}").submit(Pipeline(workspace, [train]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED
    step = run.find_step_run("train")[0]
    second = step.register_model(name, model_path="outputs/model/model.txt", tags={"from": "step"})
    assert second.version == 2 and second.run_id == step.id
    with pytest.raises(ModelError, match="has no artifact 'outputs/nope'"):
        step.register_model(name, model_path="outputs/nope")

    # another client opens and downloads them
    other = Workspace(workspace.tracking_uri)
    assert Model(other, name).version == 2
    assert Model(other, id=f"{name}:1").tags == {"area": "demo"}
    path = Model(other, name, version=1).download(str(tmp_path / "dl"))
    assert Path(path).read_text() == "weights-v1"
    assert other.models[name].version == 2
    assert [m.version for m in Model.list(other, name=name)] == [2, 1]
    with pytest.raises(ModelError, match="has no version 9"):
        Model(other, name, version=9)

    # Model.get_model_path in a step (the step signs in as the embedded default lets it: here the
    # test server needs no credentials)
    write_script(src, "score.py", SCORE.replace("MODEL_NAME", repr(name)))
    score = PythonScriptStep("score.py", name="score", source_directory=src)
    run2 = Experiment(workspace, f"mdl-{tmp_path.name}").submit(Pipeline(workspace, [score]))
    assert run2.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED
    assert "SCORE weights-v2 True" in run2.find_step_run("score")[0].get_stdout_log()

    # outside a step, the workspace is given; the model lands in ./azureml-models/<name>/<version>/
    monkeypatch.chdir(tmp_path)
    local = Model.get_model_path(name, version=1, _workspace=other)
    assert Path(local).read_text() == "weights-v1"
    assert Path(local) == (tmp_path / "azureml-models" / name / "1" / "model.txt").resolve()


LOG_MODEL = """
import mlflow


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input


with mlflow.start_run():  # resumes the step's run (MLFLOW_RUN_ID)
    mlflow.pyfunc.log_model(name="clf", python_model=Echo(), pip_requirements=["mlflow"])
print("LOGGED")
"""


def test_mlflow3_logged_models_are_step_outputs(workspace, mlflow_server, tmp_path):
    if mlflow_server.major < 3:
        pytest.skip("logged models (models/<model id>) are MLflow 3's")
    from steprun_widgets.core.outputs import LoggedModelOutput
    from steprun_widgets.widgets.downloads import plan_download

    src = tmp_path / "src"
    write_script(src, "log_model.py", LOG_MODEL)
    step = PythonScriptStep("log_model.py", name="log_model", source_directory=src)
    run = Experiment(workspace, f"lm-{tmp_path.name}").submit(Pipeline(workspace, [step]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=180) == layout.FINISHED
    step_run = run.find_step_run("log_model")[0]
    outputs = step_run.get_outputs()
    assert set(outputs) == {"clf"} and isinstance(outputs["clf"], LoggedModelOutput)
    names = {f.path for f in outputs["clf"].files}
    assert {"outputs/clf/MLmodel", "outputs/clf/python_model.pkl"} <= names

    # downloadable like any output, and the widgets' download plan lists its files
    folder = Path(step_run.get_output_data("clf").download(tmp_path / "dl", show_progress=False))
    assert "python_model" in (folder / "MLmodel").read_text()
    filename, files, zipped = plan_download(step_run, "clf")
    assert (filename, zipped) == ("clf.zip", True) and "MLmodel" in {rel for rel, _ in files}
