"""Each v1 keyword's mapping, and the clear error for each one that does not map.

Definitions are checked without a server; submissions that must be refused are tried against
the session's server and must leave nothing behind.
"""

from __future__ import annotations

import concurrent.futures
import re
import sys
import warnings

import pytest

from steprun_widgets.core import layout
from steprun_widgets.errors import StepRunError
from steprun_widgets.local import (
    DEFAULT_CPU_IMAGE,
    CommandStep,
    ComputeTargetError,
    CondaDependencies,
    Pipeline,
    PipelineData,
    PipelineDefinitionError,
    PipelineParameter,
    PipelineParameterError,
    PythonScriptStep,
    RunConfigError,
    RunConfiguration,
    register_compute,
    unregister_compute,
)
from steprun_widgets.local.compute import pipeline_executor, resolve_compute
from steprun_widgets.local.runconfig import check_environment, map_runconfig
from tests.local.helpers import write_script


@pytest.fixture
def src(tmp_path):
    return write_script(tmp_path / "src", "s.py", "print('hi')\n")


class AmlCompute:  # what Azure ML's compute object looks like to us: a name, no executor
    def __init__(self, name):
        self.name = name


class ScriptRunConfig:
    command = ["python train.py"]


def step(src, name="s", **kwargs):
    return PythonScriptStep("s.py", name=name, source_directory=src, **kwargs)


# --- compute targets ------------------------------------------------------------------------------
def test_compute_targets_map_local_registered_names_dask_addresses_and_executors(src):
    assert resolve_compute("local", "x") is None and resolve_compute(None, "x") is None
    assert resolve_compute("tcp://127.0.0.1:8786", "x") == "tcp://127.0.0.1:8786"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert resolve_compute(pool, "x") is pool
        register_compute("gpu-cluster", pool)
        try:
            assert resolve_compute("gpu-cluster", "x") is pool
            assert pipeline_executor({"a": "gpu-cluster", "b": "local", "c": None}, None) is pool
            assert pipeline_executor({"a": "gpu-cluster"}, pool) is pool
        finally:
            unregister_compute("gpu-cluster")
    register_compute("remote", "tcp://10.0.0.1:8786")
    try:
        assert resolve_compute("remote", "x") == "tcp://10.0.0.1:8786"
    finally:
        unregister_compute("remote")


def test_an_azure_compute_object_is_a_clear_error_that_says_how_to_map_it(src):
    with pytest.raises(ComputeTargetError, match=r"Step 's'.*Azure ML compute object \(AmlCompute\).*"
                                                 r"register_compute\('cpu-cluster', executor\)"):
        step(src, compute_target=AmlCompute("cpu-cluster"))


def test_an_unknown_compute_name_is_a_clear_error_at_submission(src):
    pipeline = Pipeline(None, [step(src, compute_target="cpu-cluster")])  # names resolve late
    with pytest.raises(ComputeTargetError, match=r"'cpu-cluster' is not a known compute target.*"
                                                 r"register_compute\('cpu-cluster', executor\)"):
        pipeline.submit_to(None)
    assert isinstance(ComputeTargetError("x"), StepRunError)


def test_steps_on_different_compute_targets_are_refused(src):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        with pytest.raises(ComputeTargetError, match="'a' and 'b' name different compute targets"):
            pipeline_executor({"a": "tcp://h:1", "b": pool}, None)
        with pytest.raises(ComputeTargetError, match="differs from step 'a'"):
            pipeline_executor({"a": "tcp://h:1"}, pool)
    with pytest.raises(ComputeTargetError, match="neither 'local'"):
        step(src, compute_target=42)
    with pytest.raises(ComputeTargetError, match="'local' is built in"):
        register_compute("local", None)


# --- runconfig ------------------------------------------------------------------------------------
def test_runconfig_maps_variables_interpreter_packages_and_target(tmp_path):
    config = RunConfiguration()
    config.environment_variables = {"A": "1"}
    config.environment.environment_variables = {"B": 2}
    config.environment.python.interpreter_path = sys.executable
    config.environment.python.conda_dependencies = CondaDependencies.create(
        conda_packages=["conda-forge::requests>=2", "pip", "python=3.11"],
        pip_packages=["traitlets[test]>=5.0", "azureml-defaults"])
    config.target = "cpu-cluster"
    mapped = map_runconfig(config, "Step 'x'")
    assert mapped.environment == {"A": "1", "B": "2"}
    assert mapped.python == sys.executable
    assert mapped.packages == ["requests", "traitlets"]  # pins, pip, python, azureml-* dropped
    assert mapped.target == "cpu-cluster" and mapped.notes == []
    check_environment(mapped, "Step 'x'")  # both are installed here


def test_package_pins_are_checked_against_the_step_python():
    import importlib.metadata

    have = importlib.metadata.version("traitlets")
    deps = CondaDependencies.create(pip_packages=["traitlets==0.0.1"], conda_packages=["requests"])
    assert deps.pins() == {"requests": "", "traitlets": "==0.0.1"}
    mapped = map_runconfig(RunConfiguration(conda_dependencies=deps), "Step 'x'")
    with pytest.raises(RunConfigError, match=rf"pin traitlets==0\.0\.1, .* has traitlets {re.escape(have)}"):
        check_environment(mapped, "Step 'x'")
    assert CondaDependencies.create(conda_packages=["numpy=1.21.2=py_0", "conda-forge::x>=1", "y 1.2.*",
                                                    "z=0.1"]).pins() == {
        "numpy": "==1.21.2", "x": ">=1", "y": "==1.2.*", "z": "==0.1.*"}
    ok = CondaDependencies.create(pip_packages=[f"traitlets~={have}"], conda_packages=["requests"])
    check_environment(map_runconfig(RunConfiguration(conda_dependencies=ok), "Step 'x'"), "Step 'x'")


def test_conda_dependencies_file_and_python_version(tmp_path):
    spec = tmp_path / "env.yml"
    spec.write_text("dependencies:\n  - python=3.1\n  - requests\n  - pip:\n    - traitlets\n")
    deps = CondaDependencies(spec)
    assert (deps.python_version, deps.packages()) == ("3.1", ["requests", "traitlets"])
    config = RunConfiguration(conda_dependencies=deps)
    with pytest.raises(RunConfigError, match=r"asks for Python 3\.1, the step's Python .* is 3\."):
        check_environment(map_runconfig(config, "Step 'x'"), "Step 'x'")


def test_docker_is_said_not_ignored(src):
    config = RunConfiguration()
    config.environment.docker.enabled = True
    config.environment.docker.base_image = DEFAULT_CPU_IMAGE
    mapped = map_runconfig(config, "Step 's'")
    assert mapped.notes and "without a container" in mapped.notes[0]
    with pytest.warns(UserWarning, match="Docker"):
        check_environment(mapped, "Step 's'")


@pytest.mark.parametrize(("setting", "value", "match"), [
    ("node_count", 2, "node_count=2 is not supported"),
    ("communicator", "Mpi", "communicator='Mpi'"),
    ("framework", "PySpark", "framework='PySpark'"),
    ("data_references", {"d": object()}, "data_references is not supported"),
    ("max_run_duration_seconds", 60, "max_run_duration_seconds is not supported"),
])
def test_runconfig_settings_that_do_not_map_are_errors(src, setting, value, match):
    config = RunConfiguration()
    setattr(config, setting, value)
    with pytest.raises(RunConfigError, match=match):
        step(src, runconfig=config)


def test_runconfig_unknown_attribute_bad_interpreter_and_script_run_config(src, tmp_path):
    config = RunConfiguration()
    with pytest.raises(RunConfigError, match=r"RunConfiguration\.environment\.docker\.gpu_support"):
        config.environment.docker.gpu_support = True
    config.environment.python.interpreter_path = str(tmp_path / "nope" / "python")
    with pytest.raises(RunConfigError, match="is not an executable Python"):
        step(src, runconfig=config)
    (tmp_path / "notvenv").mkdir()
    config.environment.python.interpreter_path = str(tmp_path / "notvenv")
    with pytest.raises(RunConfigError, match="not a conda env or venv"):
        step(src, runconfig=config)
    with pytest.raises(RunConfigError, match="ScriptRunConfig.*CommandStep"):
        step(src, runconfig=ScriptRunConfig())
    with pytest.raises(RunConfigError, match="not a RunConfiguration"):
        step(src, runconfig={"environment_variables": {}})


# --- steps, data, parameters ----------------------------------------------------------------------
def test_python_script_step_v1_keywords(src):
    s = step(src, params={"lr": 0.1}, version="2", hash_paths=["s.py"], compute_target="local")
    assert s.environment.environment == {"AML_PARAMETER_lr": "0.1"}
    assert s.reuse_identity() == {"version": "2", "environment": {"AML_PARAMETER_lr": "0.1"}}
    with pytest.raises(PipelineDefinitionError, match="runconfig_pipeline_params is not supported"):
        step(src, runconfig_pipeline_params={"p": 1})
    with pytest.raises(TypeError):
        step(src, no_such_keyword=1)


@pytest.mark.parametrize("bad", [object(), ("param", "binding"), {"path": "x"}])
def test_inputs_and_arguments_that_do_not_map(src, bad):
    with pytest.raises(PipelineDefinitionError, match=r"inputs must be PipelineData, datastore references "
                       r"\(DataReference.*or datasets"):
        step(src, inputs=[bad])
    with pytest.raises(PipelineDefinitionError, match="does not map"):
        step(src, arguments=["--x", bad])


def test_pipeline_data_v1_keywords():
    data = PipelineData("d", datastore=object(), output_name="out", output_mode="upload",
                        is_directory=False, pipeline_output_name="final")
    assert (data.output_name, data.pipeline_output_name) == ("out", "final")
    assert data.datastore_name == layout.DATASTORE_NAME
    for keyword, value in [("output_path_on_compute", "/mnt/x"), ("output_overwrite", True),
                           ("data_type", "AnyFile"), ("training_output", object())]:
        with pytest.raises(PipelineDefinitionError, match=f"{keyword}= is not supported"):
            PipelineData("d", **{keyword: value})
    with pytest.raises(PipelineDefinitionError, match="output_mode 'direct' is not supported"):
        PipelineData("d", output_mode="direct")
    with pytest.raises(PipelineDefinitionError, match="pipeline_output_name"):
        PipelineData("d", pipeline_output_name="../x")


def test_pipeline_parameter_values():
    assert PipelineParameter("n", 3).default_value == 3
    with pytest.raises(PipelineParameterError, match="'data'.*DataPath"):
        PipelineParameter("data", object())
    with pytest.raises(PipelineParameterError, match="name"):
        PipelineParameter("bad name", 1)


def test_closure_run_after_edges_validate_and_two_promotions(src):
    a_out, b_out = PipelineData("a_out"), PipelineData("b_out", pipeline_output_name="p")
    a = step(src, "a", arguments=[a_out], outputs=[a_out])
    b = step(src, "b", arguments=[a_out, b_out], inputs=[a_out], outputs=[b_out])
    c = CommandStep("echo c", source_directory=src)
    c.run_after(b)
    pipeline = Pipeline(None, [c], description="d")
    assert [s.name for s in pipeline.steps] == ["echo", "b", "a"]  # listed first, then what they need
    assert [s.name for s in pipeline.topological_order()] == ["a", "b", "echo"]
    assert (b.node_id, c.node_id) in pipeline.edges() and (a.node_id, b.node_id) in pipeline.edges()
    assert pipeline.validate() == []
    assert pipeline.pipeline_outputs() == {"p": (b.node_id, "b_out")}
    with pytest.raises(PipelineDefinitionError, match="runs after 'b', which is not in the pipeline"):
        Pipeline(None, [c], resolve_closure=False)
    with pytest.raises(PipelineDefinitionError, match="cannot run after itself"):
        c.run_after(c)
    b.run_after(c)
    with pytest.raises(PipelineDefinitionError, match="cycle"):
        Pipeline(None, [c])
    x, y = PipelineData("x", pipeline_output_name="same"), PipelineData("y", pipeline_output_name="same")
    with pytest.raises(PipelineDefinitionError, match="promoted as pipeline output 'same'"):
        Pipeline(None, [step(src, "x", arguments=[x], outputs=[x]),
                        step(src, "y", arguments=[y], outputs=[y])])


def test_command_step_forms(src):
    data = PipelineData("d")
    listed = CommandStep(["python", "s.py", data, PipelineParameter("k", "v")], outputs=[data],
                         source_directory=src)
    assert listed.name == "python" and listed.argv_template()[:2] == ["python", "s.py"]
    shell = CommandStep("python s.py --epochs 30", name="train", source_directory=src)
    assert shell.argv_template() == ["/bin/sh", "-c", "python s.py --epochs 30"]
    with pytest.raises(PipelineDefinitionError, match="ScriptRunConfig passed as runconfig does not map"):
        CommandStep(name="train-mnist", runconfig=ScriptRunConfig())
    with pytest.raises(PipelineDefinitionError, match="command is empty"):
        CommandStep("  ")


# --- submit ---------------------------------------------------------------------------------------
def _nothing_created(experiment) -> bool:
    found = experiment.workspace.rest.get_experiment_by_name(experiment.name)
    return found is None or not experiment.workspace.rest.search_runs([str(found["experiment_id"])])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"pipeline_parameters": {"nope": 1}}, "names 'nope', which no step of the pipeline uses.*: n"),
    ({"pipeline_parameters": {"n": [1]}}, "the submitted value is a list"),
    ({"tags": {"mlflow.runName": "x"}}, "namespace the pipeline layout owns"),
    ({"tags": {"ok": ["list"]}}, "must map a name to a string"),
    ({"continue_on_step_failure": True}, "continue_on_step_failure= is not supported: the runner always"),
    ({"credential_passthrough": True}, "credential_passthrough= is not supported"),
])
def test_submit_keywords_that_do_not_map_create_nothing(experiment, src, kwargs, match):
    pipeline = Pipeline(experiment.workspace, [step(src, arguments=[PipelineParameter("n", 1)])])
    with pytest.raises(StepRunError, match=match), warnings.catch_warnings():
        warnings.simplefilter("error")
        experiment.submit(pipeline, **kwargs)
    assert _nothing_created(experiment)


def test_output_names_may_not_collide_with_an_input_or_each_other(src):
    a, b, c = PipelineData("a"), PipelineData("b", output_name="a"), PipelineData("c", output_name="a")
    first = step(src, "one", arguments=[a], outputs=[a])
    with pytest.raises(PipelineDefinitionError, match="input 'a' and an output of the same name"):
        Pipeline(None, [first, step(src, "two", arguments=[a, b], inputs=[a], outputs=[b])])
    with pytest.raises(PipelineDefinitionError, match="two outputs named 'a'"):
        Pipeline(None, [step(src, "three", arguments=[b, c], outputs=[b, c])])
