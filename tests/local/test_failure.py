"""Failures: a non-zero exit, a step killed by a signal, and definitions refused at submit."""

from __future__ import annotations

import pytest

from steprun_widgets.core import layout
from steprun_widgets.errors import ActivityFailedException, StepRunError
from steprun_widgets.local import Pipeline, PipelineData, PipelineDefinitionError, PythonScriptStep
from tests.local.helpers import statuses, write_script


@pytest.fixture
def sink() -> str:
    return "append"


def test_failing_step_cancels_dependents_and_fails_pipeline(experiment, tmp_path):
    bad = write_script(tmp_path / "bad", "bad.py", """
        import sys
        print("working...")
        print("a warning first", file=sys.stderr)
        print("ValueError: bad value 42", file=sys.stderr)
        sys.exit(3)
    """)
    after = write_script(tmp_path / "after", "after.py", "print('never runs')\n")
    good = write_script(tmp_path / "good", "good.py", """
        import sys
        from pathlib import Path
        (Path(sys.argv[1]) / "ok.txt").write_text("independent branch")
        print("independent branch done")
    """)
    data, ok = PipelineData("bad_data"), PipelineData("ok")
    pipeline = Pipeline(experiment.workspace, [
        PythonScriptStep("bad.py", name="bad", arguments=[data], outputs=[data], source_directory=bad),
        PythonScriptStep("after.py", name="after", arguments=[data], inputs=[data], source_directory=after),
        PythonScriptStep("good.py", name="good", arguments=[ok], outputs=[ok], source_directory=good),
    ])
    run = experiment.submit(pipeline)

    with pytest.raises(ActivityFailedException) as failure:
        run.wait_for_completion(show_output=False, timeout_seconds=120)
    message = str(failure.value)
    assert "'bad'" in message and "exit code 3" in message and "bad value 42" in message

    assert run.wait_for_completion(show_output=False, raise_on_error=False) == layout.FAILED
    assert run.get_status() == layout.FAILED
    assert statuses(run) == {"bad": layout.FAILED, "after": layout.CANCELED, "good": layout.FINISHED}
    bad_run = run.find_step_run("bad")[0]
    error = bad_run.get_tags()[layout.TAG_ERROR]
    assert "exit code 3" in error and error.endswith("ValueError: bad value 42")
    assert "'bad'" in run.find_step_run("after")[0].get_tags()[layout.TAG_ERROR]
    assert "'bad'" in run.get_tags()[layout.TAG_ERROR]
    assert bad_run.get_stderr_log() == "a warning first\nValueError: bad value 42\n"
    assert bad_run.get_stdout_log() == "working...\n"
    assert "exit code 3" in bad_run.get_job_log()
    assert set(run.find_step_run("good")[0].get_outputs()) == {"ok"}
    with pytest.raises(ActivityFailedException, match="bad value 42"):
        bad_run.wait_for_completion(show_output=False)


def test_step_killed_by_a_signal(experiment, tmp_path):
    src = write_script(tmp_path / "src", "suicide.py", """
        import os
        print("about to die", flush=True)
        os.kill(os.getpid(), 9)
    """)
    run = experiment.submit(Pipeline(experiment.workspace, [
        PythonScriptStep("suicide.py", name="suicide", source_directory=src)]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=60, raise_on_error=False) == "Failed"
    step = run.find_step_run("suicide")[0]
    assert step.get_status() == layout.FAILED
    assert "SIGKILL" in step.get_tags()[layout.TAG_ERROR]
    assert step.get_stdout_log() == "about to die\n"


def assert_nothing_created(experiment) -> None:
    found = experiment.workspace.rest.get_experiment_by_name(experiment.name)
    if found is not None:
        assert experiment.workspace.rest.search_runs([str(found["experiment_id"])]) == []


def test_missing_script(experiment, tmp_path):
    src = write_script(tmp_path / "src", "there.py", "print(1)\n")
    with pytest.raises(PipelineDefinitionError, match=r"'missing'.*'nope\.py'"):
        Pipeline(experiment.workspace, [PythonScriptStep("nope.py", name="missing", source_directory=src)])
    # valid when defined, the script gone by the time it is submitted
    pipeline = Pipeline(experiment.workspace, [PythonScriptStep("there.py", source_directory=src)])
    (src / "there.py").unlink()
    with pytest.raises(PipelineDefinitionError, match=r"'there\.py'") as refused:
        experiment.submit(pipeline)
    assert isinstance(refused.value, StepRunError)
    assert_nothing_created(experiment)


def test_missing_source_directory(experiment, tmp_path):
    with pytest.raises(PipelineDefinitionError, match="no_such_dir"):
        Pipeline(experiment.workspace, [
            PythonScriptStep("a.py", name="a", source_directory=tmp_path / "no_such_dir")])
    src = write_script(tmp_path / "gone", "a.py", "print(1)\n")
    pipeline = Pipeline(experiment.workspace, [PythonScriptStep("a.py", name="a", source_directory=src)])
    (src / "a.py").unlink()
    src.rmdir()
    with pytest.raises(PipelineDefinitionError, match=r"'a'.*source_directory.*gone"):
        experiment.submit(pipeline)
    assert_nothing_created(experiment)


def test_data_consumed_but_never_produced(experiment, tmp_path):
    src = write_script(tmp_path / "src", "a.py", "print(1)\n")
    orphan = PipelineData("orphan_data")
    with pytest.raises(PipelineDefinitionError, match=r"'consumer'.*'orphan_data'"):
        Pipeline(experiment.workspace, [
            PythonScriptStep("a.py", name="consumer", arguments=[orphan], inputs=[orphan],
                             source_directory=src)])
    # the producer dropped from a valid pipeline before submit
    producer = PythonScriptStep("a.py", name="producer", arguments=[orphan], outputs=[orphan],
                                source_directory=src)
    pipeline = Pipeline(experiment.workspace, [
        producer,
        PythonScriptStep("a.py", name="consumer", arguments=[orphan], inputs=[orphan], source_directory=src)])
    pipeline.steps.remove(producer)
    with pytest.raises(PipelineDefinitionError, match=r"'consumer'.*'orphan_data'"):
        experiment.submit(pipeline)
    assert_nothing_created(experiment)


def test_duplicate_step_names(experiment, tmp_path):
    src = write_script(tmp_path / "src", "a.py", "print(1)\n")
    with pytest.raises(PipelineDefinitionError, match="'twice'"):
        Pipeline(experiment.workspace, [PythonScriptStep("a.py", name="twice", source_directory=src),
                                        PythonScriptStep("a.py", name="twice", source_directory=src)])
    pipeline = Pipeline(experiment.workspace, [PythonScriptStep("a.py", name="once", source_directory=src)])
    pipeline.steps.append(PythonScriptStep("a.py", name="once", source_directory=src))
    with pytest.raises(PipelineDefinitionError, match="'once'"):
        experiment.submit(pipeline)
    assert_nothing_created(experiment)


def test_cycle(experiment, tmp_path):
    src = write_script(tmp_path / "src", "a.py", "print(1)\n")
    x, y = PipelineData("x"), PipelineData("y")
    steps = [
        PythonScriptStep("a.py", name="first", arguments=[y, x], inputs=[y], outputs=[x],
                         source_directory=src),
        PythonScriptStep("a.py", name="second", arguments=[x, y], inputs=[x], outputs=[y],
                         source_directory=src),
    ]
    with pytest.raises(PipelineDefinitionError, match=r"cycle.*'first'.*'second'"):
        Pipeline(experiment.workspace, steps)
    pipeline = Pipeline(experiment.workspace, steps[:1] + [
        PythonScriptStep("a.py", name="second", arguments=[y], outputs=[y], source_directory=src)])
    pipeline.steps[1] = steps[1]
    with pytest.raises(PipelineDefinitionError, match=r"cycle.*'first'.*'second'"):
        experiment.submit(pipeline)
    assert_nothing_created(experiment)
