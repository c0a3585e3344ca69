"""Real runs of the v1 pipeline features: run_after, CommandStep, PipelineParameter and reuse,
regenerate_outputs, tags, pipeline outputs, get_children, Workspace.experiments, download layout,
runconfig and compute targets."""

from __future__ import annotations

import concurrent.futures
import json
import os
import sys
import warnings
from pathlib import Path

import pytest

from steprun_widgets import PipelineRun
from steprun_widgets.core import layout
from steprun_widgets.local import (
    CommandStep,
    CondaDependencies,
    Pipeline,
    PipelineData,
    PipelineParameter,
    PythonScriptStep,
    RunConfigError,
    RunConfiguration,
    RunConfigWarning,
    register_compute,
    unregister_compute,
)
from tests.local.helpers import write_script

WRITE = """
import argparse, os, time
p = argparse.ArgumentParser()
p.add_argument("--out")
p.add_argument("--n", type=int, default=1)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
with open(os.path.join(a.out, "rows.txt"), "w") as f:
    f.write("\\n".join(str(i) for i in range(a.n)) + "\\n")
print("wrote", a.n, "rows")
"""

READ = """
import os, sys, time
src, dest, marker = sys.argv[1], sys.argv[2], sys.argv[3]
rows = open(os.path.join(src, "rows.txt")).read().split()
os.makedirs(dest, exist_ok=True)
open(os.path.join(dest, "count.txt"), "w").write(str(len(rows)))
time.sleep(0.5)
open(marker, "w").write("second done")
print("read", len(rows), "rows")
"""


def _done(run: PipelineRun) -> str:
    return run.wait_for_completion(show_output=False, timeout_seconds=240)


def test_run_after_command_step_pipeline_output_tags_and_download(experiment, workspace, tmp_path):
    src = write_script(tmp_path / "src", "write.py", WRITE)
    write_script(src, "read.py", READ)
    marker = tmp_path / "marker.txt"
    table = PipelineData("table", datastore="workspaceblobstore", output_name="rows",
                         pipeline_output_name="result", is_directory=True)
    counted = PipelineData("counted")
    PythonScriptStep("write.py", name="first", arguments=["--out", table, "--n", 5],
                     outputs=[table], compute_target="local", source_directory=src)  # found via table
    second = CommandStep(command=["python", "read.py", table, counted, str(marker)], name="second",
                         inputs=[table], outputs=[counted], source_directory=src)
    # No data between second and third: only run_after orders them; third fails if it ran early.
    third = CommandStep(command=f'test "$(cat {marker})" = "second done" && echo "third saw $GREETING"',
                        name="third", source_directory=src,
                        runconfig=_env_runconfig({"GREETING": "hello"}))
    third.run_after(second)

    pipeline = Pipeline(workspace, [third], description="v1 features")  # closure: second, first
    assert [s.name for s in pipeline.steps] == ["third", "second", "first"]
    run = experiment.submit(pipeline, tags={"team": "ml", "attempt": 1})
    assert _done(run) == layout.FINISHED

    # Azure ML's order: newest-created first; graph order is what the widgets show
    assert [s.name for s in run.get_steps()] == ["third", "second", "first"]
    assert [s.name for s in run.get_children()] == ["third", "second", "first"]
    assert [s.name for s in run.steps_in_graph_order()] == ["first", "second", "third"]
    assert [s.name for s in run.get_children(status=layout.FINISHED)] == ["third", "second", "first"]
    assert "third saw hello" in run.find_step_run("third")[0].get_stdout_log()
    graph = run.get_graph()
    ids = {n["name"]: n["id"] for n in graph["nodes"]}
    assert (ids["second"], ids["third"]) in graph["edges"]  # the run_after edge is drawn too

    tags = run.get_tags()
    assert tags["team"] == "ml" and tags["attempt"] == "1"
    assert tags[layout.TAG_DESCRIPTION] == "v1 features"

    first_run = run.find_step_run("first")[0]
    result = run.get_pipeline_output("result")
    assert result.name == "rows" and result.step_run.id == first_run.id
    assert result.datastore_name == layout.DATASTORE_NAME
    assert result.path_on_datastore == f"azureml/{first_run.id}/rows"
    folder = result.download(str(tmp_path / "dl"), overwrite=False, show_progress=False)
    # the samples read results after a download as os.path.join(local_path, path_on_datastore, file)
    rows = Path(tmp_path / "dl", result.path_on_datastore, "rows.txt").read_text().split()
    assert rows == ["0", "1", "2", "3", "4"] and folder == str(tmp_path / "dl" / result.path_on_datastore)
    flat = result.download(tmp_path / "flat", show_progress=False, flat=True)
    assert Path(flat, "rows.txt").read_text().split() == rows and flat == str(tmp_path / "flat" / "rows")
    counted_ref = run.find_step_run("second")[0].get_output_data("counted")
    counted_ref.download(tmp_path / "dl", show_progress=False)
    assert Path(tmp_path / "dl", counted_ref.path_on_datastore, "count.txt").read_text() == "5"

    experiments = workspace.experiments
    assert experiments[experiment.name].name == experiment.name
    again = PipelineRun(experiments[experiment.name], run.id)
    assert [s.id for s in again.get_steps()] == [s.id for s in run.get_steps()]

    with pytest.raises(Exception, match="no pipeline output named 'nope'.*result"):
        run.get_pipeline_output("nope")


def _env_runconfig(variables: dict[str, str]) -> RunConfiguration:
    config = RunConfiguration()
    config.environment.environment_variables = dict(variables)
    return config


def test_pipeline_parameters_take_part_in_reuse_and_regenerate_outputs(experiment, workspace, tmp_path):
    src = write_script(tmp_path / "src", "write.py", WRITE)
    out = PipelineData("out")
    rows = PipelineParameter("rows", default_value=3)
    step = PythonScriptStep("write.py", name="write", arguments=["--out", out, "--n", rows],
                            outputs=[out], source_directory=src)
    pipeline = Pipeline(workspace, [step])

    def submit(**kwargs):
        run = experiment.submit(pipeline, **kwargs)
        assert _done(run) == layout.FINISHED
        return run, run.get_steps()[0]

    first, first_step = submit()
    assert not first_step._is_reused
    assert first.get_details()["properties"][layout.param_pipeline_parameter("rows")] == "3"
    second, second_step = submit(pipeline_parameters={"rows": 3})  # same value: reused
    assert second_step._is_reused and second_step.id == first_step.id
    third, third_step = submit(pipeline_parameters={"rows": 4})  # new value: runs again
    assert not third_step._is_reused and third_step.id != first_step.id
    assert third.get_details()["properties"][layout.param_pipeline_parameter("rows")] == "4"
    ref = third_step.get_output_data("out")
    ref.download(tmp_path / "dl", show_progress=False)
    assert len(Path(tmp_path / "dl", ref.path_on_datastore, "rows.txt").read_text().split()) == 4
    fourth, fourth_step = submit(regenerate_outputs=True)  # reuse allowed, but not wanted
    assert not fourth_step._is_reused and fourth_step.id not in (first_step.id, third_step.id)
    fifth, fifth_step = submit()  # what regenerate_outputs produced is reusable afterwards
    assert fifth_step._is_reused and fifth_step.id == fourth_step.id


def test_runconfig_interpreter_variables_packages_and_a_registered_compute(experiment, workspace,
                                                                         tmp_path):
    src = write_script(tmp_path / "src", "env.py", "import os, sys\n"
                       "print('python', sys.executable)\nprint('var', os.environ['STAGE'])\n"
                       "print('param', os.environ['AML_PARAMETER_lr'])\n")
    venv = tmp_path / "myenv" / "bin"
    venv.mkdir(parents=True)
    os.symlink(sys.executable, venv / "python")
    config = RunConfiguration()
    config.environment_variables = {"STAGE": "test"}
    config.environment.python.interpreter_path = str(tmp_path / "myenv")  # a venv folder
    config.environment.python.user_managed_dependencies = False
    config.environment.python.conda_dependencies = CondaDependencies.create(
        conda_packages=["requests"], pip_packages=["traitlets>=5"])
    config.environment.docker.enabled = True
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    register_compute("cpu-cluster", pool)
    try:
        step = PythonScriptStep("env.py", name="env", compute_target="cpu-cluster", runconfig=config,
                                params={"lr": "0.1"}, source_directory=src)
        with pytest.warns(RunConfigWarning, match="Docker"):
            run = experiment.submit(Pipeline(workspace, [step]))
        assert _done(run) == layout.FINISHED
        out = run.get_steps()[0].get_stdout_log()
        assert f"python {venv / 'python'}" in out
        assert "var test" in out and "param 0.1" in out

        config.environment.python.conda_dependencies = CondaDependencies.create(
            conda_packages=["no-such-package-xyz"])
        missing = PythonScriptStep("env.py", name="env", runconfig=config, source_directory=src)
        with pytest.raises(RunConfigError, match="lacks package 'no-such-package-xyz'"), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", RunConfigWarning)
            experiment.submit(Pipeline(workspace, [missing]))
        assert len(workspace.rest.search_runs([experiment.id])) == 2  # the refused one made no run
    finally:
        unregister_compute("cpu-cluster")
        pool.shutdown(wait=True)


def test_pipeline_run_records_promoted_outputs(experiment, workspace, tmp_path):
    src = write_script(tmp_path / "src", "write.py", WRITE)
    out = PipelineData("out", pipeline_output_name="final")
    run = experiment.submit(Pipeline(workspace, [PythonScriptStep(
        "write.py", name="w", arguments=["--out", out], outputs=[out], source_directory=src)]))
    assert json.loads(run.get_tags()[layout.TAG_PIPELINE_OUTPUTS]) == {
        "final": [run.get_graph()["nodes"][0]["id"], "out"]}
    assert _done(run) == layout.FINISHED


def test_step_names_with_spaces_run_and_read_back_as_given(experiment, workspace, tmp_path):
    """v1 sample names ("Cleanse Green Taxi Data"): shown as given, a safe work folder inside."""
    src = write_script(tmp_path / "src", "write.py", WRITE)
    write_script(src, "read.py", READ)
    data, count = PipelineData("data"), PipelineData("count")
    first = PythonScriptStep("write.py", name="Cleanse Green Taxi Data", arguments=["--out", data, "--n", 3],
                             outputs=[data], source_directory=src, allow_reuse=False)
    second = PythonScriptStep("read.py", name="Count (rows): all", arguments=[data, count, tmp_path / "m"],
                              inputs=[data], outputs=[count], source_directory=src, allow_reuse=False)
    run = experiment.submit(Pipeline(workspace, [first, second]))
    assert _done(run) == layout.FINISHED
    assert {n["name"] for n in run.get_graph()["nodes"]} == {"Cleanse Green Taxi Data", "Count (rows): all"}
    (step,) = run.find_step_run("Count (rows): all")
    assert step.name == "Count (rows): all" and "read 3 rows" in step.get_stdout_log()
    folder = step.get_output_data("count").download(local_path=tmp_path / "dl")
    assert (Path(folder) / "count.txt").read_text() == "3"
