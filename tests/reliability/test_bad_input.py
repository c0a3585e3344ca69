"""Bad input: unknown names, hostile run ids, servers that are not (good) MLflow servers, broken steps.

Each gives one typed StepRunError subclass whose message names the thing at fault, and nothing is
half-created on the server.
"""

from __future__ import annotations

import http.client
import time
import traceback
from urllib.parse import urlsplit

import pytest

from steprun_widgets import Experiment, PipelineRun, StepRun, Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.runs import open_run
from steprun_widgets.errors import (
    OutputNotFoundError,
    RunNotFoundError,
    ServiceError,
    StepRunError,
)
from steprun_widgets.local import Pipeline, PipelineData, PipelineDefinitionError, PythonScriptStep
from tests.reliability.helpers import closed_port_url, json_answer, write_script
from tests.runlayout import RunLayout

TOKEN = "tok-SECRET-bad-input-4711"
FAST = {"retries": 1, "timeout": (1, 2)}


def _raises(fn, kind: type[StepRunError]) -> StepRunError:
    """Call ``fn``; it must raise exactly one ``kind`` (not a bare requests/JSON/OS error)."""
    with pytest.raises(StepRunError) as info:
        fn()
    assert isinstance(info.value, kind), f"{type(info.value).__name__}: {info.value}"
    text = "".join(traceback.format_exception(info.value))
    assert TOKEN not in text and TOKEN not in repr(info.value)
    return info.value


# --- unknown names --------------------------------------------------------------------------------------
@pytest.fixture
def layout_runs(workspace, experiment_name) -> RunLayout:
    return RunLayout(workspace, experiment_name)


def test_unknown_experiment_run_step_output_and_log(workspace, layout_runs, experiment_name):
    pipeline = layout_runs.pipeline(steps=["train"], status=layout.FINISHED)
    step = layout_runs.step(pipeline, "train", status=layout.FINISHED)
    layout_runs.output(step, "model", {"weights.bin": b"\x00\x01"})
    experiment = Experiment(workspace, experiment_name)

    error = _raises(lambda: Experiment(workspace, "no-such-experiment-☃").id, RunNotFoundError)
    assert "no-such-experiment-☃" in str(error) and workspace.transport.display_url in str(error)

    missing = "0123456789abcdef0123456789abcdef"
    for make in (lambda: PipelineRun(experiment, missing).get_status(),
                 lambda: StepRun(experiment, missing, pipeline.run_id, None).get_stdout_log(),
                 lambda: open_run(workspace, missing)):
        assert missing in str(_raises(make, RunNotFoundError))

    run = PipelineRun(experiment, pipeline.run_id)
    assert run.find_step_run("no-such-step") == []  # Azure ML v1's API: a list, empty
    error = _raises(lambda: run.get_step("no-such-step"), RunNotFoundError)
    assert "'no-such-step'" in str(error) and pipeline.run_id in str(error) and "train" in str(error)

    train = run.find_step_run("train")[0]
    for call in (lambda: train.get_output("no-such-output"),
                 lambda: train.get_output_data("no-such-output")):
        error = _raises(call, OutputNotFoundError)
        assert "'no-such-output'" in str(error) and step.run_id in str(error) and "model" in str(error)
    error = _raises(lambda: train.log_reader("no-such-log"), StepRunError)
    assert "'no-such-log'" in str(error) and "stdout" in str(error)
    # a StepRun of a run that is not a step: still opens (other tools), with no outputs
    assert StepRun(experiment, pipeline.run_id, pipeline.run_id, None).get_outputs() == {}


HOSTILE_RUN_IDS = ["../../etc/passwd", "..", "abc/def", "abc\\def", "a b", "", " ", "x\x00y", "run\nid",
                   "%2e%2e%2f", "a?b=c", "a#frag", "a;rm -rf ~", "/absolute", "-leading-dash", "ü" * 4,
                   "a" * 200, "..%2F..%2Fsecret", "C:\\x"]


def test_run_ids_with_path_characters_are_refused_before_any_request(workspace, experiment):
    before = workspace.transport.request_count
    for bad in HOSTILE_RUN_IDS:
        for make in (lambda b=bad: PipelineRun(experiment, b),
                     lambda b=bad: StepRun(experiment, b, "p", None),
                     lambda b=bad: open_run(workspace, b)):
            error = _raises(make, RunNotFoundError)
            assert repr(bad) in str(error), str(error)
    assert workspace.transport.request_count == before, "a hostile id must never reach the server"


# --- tracking URIs that are not a (good) MLflow server ---------------------------------------------------
def _html(status: int, text: str):
    page = f"<html><body><h1>{text}</h1></body></html>".encode()
    return lambda _h: (status, "text/html; charset=utf-8", page)


BAD_SERVERS = {
    "not-mlflow": _html(200, "Welcome to nginx!"),
    "malformed-json": lambda _h: (200, "application/json", b'{"experiment": {"experiment_id": '),
    "json-not-object": lambda _h: json_answer(["not", "an", "object"]),
    "json-missing-fields": lambda _h: json_answer({}),
    "html-error-page": _html(502, "502 Bad Gateway"),
    "http-500": lambda _h: json_answer({"error_code": "INTERNAL_ERROR", "message": "boom"}, 500),
    "bare-404": _html(404, "Not Found"),
    "http-401": lambda _h: json_answer({"error_code": "UNAUTHENTICATED", "message": "who are you"}, 401),
}

OPERATIONS = {
    "experiment id": lambda ws: Experiment(ws, "exp").id,
    "pipeline status": lambda ws: PipelineRun(Experiment(ws, "exp"), "0123abcd").get_status(),
    "stdout log": lambda ws: StepRun(Experiment(ws, "exp"), "0123abcd", "p", None).get_stdout_log(),
    "open run": lambda ws: open_run(ws, "0123abcd"),
}


@pytest.mark.parametrize("kind", sorted(BAD_SERVERS))
def test_a_server_that_is_not_a_good_mlflow_server_gives_one_clear_service_error(kind, fake_server):
    server = fake_server(BAD_SERVERS[kind])
    ws = Workspace(server.url, token=TOKEN, **FAST)
    for name, operation in OPERATIONS.items():
        error = _raises(lambda op=operation: op(ws), ServiceError)
        assert server.url in str(error), f"{kind} / {name}: {error}"
        assert "\n" not in str(error)
    assert server.requests, "the fake server was asked"
    ws.transport.close()


def test_closed_port_and_non_http_uris(tmp_path):
    url = closed_port_url()
    ws = Workspace(url, token=TOKEN, **FAST)
    for name, operation in OPERATIONS.items():
        error = _raises(lambda op=operation: op(ws), ServiceError)
        assert url in str(error) and "reach" in str(error), f"{name}: {error}"
    for uri in ("ftp://127.0.0.1/x", "127.0.0.1:5000", "file:///tmp/mlruns", "http://"):
        error = _raises(lambda u=uri: Workspace(u, token=TOKEN), ServiceError)
        assert "not an http(s) URL" in str(error)


def test_a_server_that_hangs_times_out_with_a_clear_error(fake_server):
    server = fake_server(lambda _h: json_answer({}), hang=30)
    ws = Workspace(server.url, token=TOKEN, **FAST)
    for operation in (OPERATIONS["experiment id"], OPERATIONS["stdout log"]):
        started = time.monotonic()
        error = _raises(lambda op=operation: op(ws), ServiceError)
        assert time.monotonic() - started < 25, "the timeout bounds the wait"
        assert server.url in str(error) and "did not answer within 2 s" in str(error), str(error)


def test_submit_to_a_bad_server_creates_nothing_and_says_why(fake_server, tmp_path):
    src = write_script(tmp_path / "src", "ok.py", "print('hi')\n")
    server = fake_server(BAD_SERVERS["html-error-page"])
    ws = Workspace(server.url, token=TOKEN, **FAST)
    error = _raises(lambda: Experiment(ws, "exp").submit(
        Pipeline(ws, [PythonScriptStep("ok.py", source_directory=src)])), ServiceError)
    assert server.url in str(error)
    assert all("/runs/create" not in path for _, path in server.requests)


# --- broken pipeline definitions ------------------------------------------------------------------------
def _nothing_on_server(experiment: Experiment) -> None:
    found = experiment.workspace.rest.get_experiment_by_name(experiment.name)
    if found is not None:
        assert experiment.workspace.rest.search_runs([str(found["experiment_id"])]) == []


def test_broken_steps_are_refused_at_submit_and_nothing_is_created(experiment, tmp_path):
    ws = experiment.workspace
    src = write_script(tmp_path / "src", "ok.py", "print('ok')\n")
    never = PipelineData("never_produced")

    cases = {
        "missing script": lambda: [PythonScriptStep("no_such.py", name="a", source_directory=src)],
        "missing source folder": lambda: [PythonScriptStep("ok.py", name="a",
                                                           source_directory=tmp_path / "nowhere")],
        "data consumed, never produced": lambda: [PythonScriptStep("ok.py", name="a", arguments=[never],
                                                                   inputs=[never], source_directory=src)],
    }
    expected = {"missing script": "'no_such.py'", "missing source folder": "nowhere",
                "data consumed, never produced": "'never_produced'"}
    for case, steps in cases.items():
        error = _raises(lambda s=steps: experiment.submit(Pipeline(ws, s())), PipelineDefinitionError)
        assert expected[case] in str(error) and "'a'" in str(error), f"{case}: {error}"

    # valid when built, broken by the time it is submitted: submit checks again
    doomed = write_script(tmp_path / "doomed", "doomed.py", "print('x')\n")
    pipeline = Pipeline(ws, [PythonScriptStep("doomed.py", name="doomed", source_directory=doomed)])
    (doomed / "doomed.py").unlink()
    error = _raises(lambda: experiment.submit(pipeline), PipelineDefinitionError)
    assert "'doomed.py'" in str(error)
    _nothing_on_server(experiment)

    for bad_name in ("<img src=x>", "a/b", "..", "", "x" * 101, "name with space"):
        _raises(lambda n=bad_name: PipelineData(n), PipelineDefinitionError)
    # A step name is display text (v1 allows "Cleanse Green Taxi Data"), never a path
    for bad_name in ("a/b", "a\\b", "", " x", "x" * 101, "tab\tname"):
        _raises(lambda n=bad_name: PythonScriptStep("ok.py", name=n, source_directory=src),
                PipelineDefinitionError)


# --- output file names ----------------------------------------------------------------------------------
def test_artifact_paths_with_dot_segments_are_refused(workspace, layout_runs):
    """``..`` in an artifact path: the client refuses it, and so does the server when asked raw."""
    pipeline = layout_runs.pipeline(steps=["s"])
    step = layout_runs.step(pipeline, "s")
    for path in ("outputs/o/../escape.txt", "outputs/o/x/../../../../escape.txt", "../outside.txt",
                 "/outputs/abs.txt", "outputs//o/x.txt"):
        error = _raises(lambda p=path: layout_runs.artifact(step, p, b"evil"), StepRunError)
        assert repr(path) in str(error)
    assert workspace.rest.walk_artifacts(step.run_id, "") == []

    # the server itself answers 400 to a raw request holding "..", encoded or not
    endpoint, _ = workspace.rest.artifact_request(step, "outputs/o/x.txt")
    parts = urlsplit(workspace.tracking_uri)
    for raw in ("outputs/o/../../escape.txt", "outputs/o/%2E%2E/%2E%2E/escape.txt"):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            conn.request("PUT", endpoint.replace("outputs/o/x.txt", raw), body=b"evil")
            answer = conn.getresponse()
            assert answer.status == 400, (raw, answer.status)
            answer.read()
        finally:
            conn.close()


def test_a_10000_character_name_is_cut_in_its_error(tmp_path):
    src = write_script(tmp_path / "src", "s.py", "print('hi')\n")
    long = "n" * 10_000
    for make in (lambda: PythonScriptStep("s.py", name=long, source_directory=src),
                 lambda: PipelineData(long),
                 lambda: PythonScriptStep(long + ".py", source_directory=src)):
        with pytest.raises(PipelineDefinitionError) as caught:
            make()
        message = str(caught.value)
        assert len(message) < 400 and "characters)" in message, message
        assert long not in message
