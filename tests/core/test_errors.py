"""Typed errors that name the thing at fault; a server that is down; tokens that never leak."""

from __future__ import annotations

import json
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from steprun_widgets import Experiment, PipelineRun, StepRun, Workspace
from steprun_widgets.core import layout
from steprun_widgets.errors import (
    OutputNotFoundError,
    RunNotFoundError,
    ServiceError,
    StepRunError,
)
from tests.mlflow_server import free_port

TOKEN = "s3cret-token-value"
MISSING_RUN = "0123456789abcdef0123456789abcdef"


# --- against the real server ---------------------------------------------------------------------
def test_unknown_experiment(workspace):
    experiment = Experiment(workspace, "no-such-experiment-xyz")
    with pytest.raises(RunNotFoundError, match="'no-such-experiment-xyz'") as info:
        experiment.id  # noqa: B018
    assert workspace.transport.display_url in str(info.value)


def test_unknown_run_id(experiment):
    for run in (PipelineRun(experiment, MISSING_RUN), StepRun(experiment, MISSING_RUN, MISSING_RUN, "n")):
        for call in (run.get_status, run.get_details):
            with pytest.raises(RunNotFoundError, match=MISSING_RUN):
                call()
    with pytest.raises(RunNotFoundError, match=MISSING_RUN):
        PipelineRun(experiment, MISSING_RUN).get_steps()


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", "a b", "", "x?y=1", "/abs", "a\\b"])
def test_run_id_with_path_characters_is_refused_before_any_request(experiment, bad):
    before = experiment.workspace.transport.request_count
    with pytest.raises(RunNotFoundError) as info:
        PipelineRun(experiment, bad)
    assert repr(bad) in str(info.value)
    with pytest.raises(RunNotFoundError):
        StepRun(experiment, bad, MISSING_RUN, "n")
    with pytest.raises(RunNotFoundError):
        StepRun(experiment, MISSING_RUN, MISSING_RUN, "n").workspace.rest.get_run(bad)
    assert experiment.workspace.transport.request_count == before


def test_unknown_output_and_unknown_step(experiment, runs):
    pipe = runs.pipeline(steps=["train"])
    record = runs.step(pipe, "train", status=layout.FINISHED)
    runs.output(record, "model", {"w.bin": b"1"})
    pipeline_run = PipelineRun(experiment, pipe.run_id)
    step = pipeline_run.find_step_run("train")[0]
    for call in (step.get_output, step.get_output_data):
        with pytest.raises(OutputNotFoundError) as info:
            call("no-such-output")
        message = str(info.value)
        assert "'no-such-output'" in message and record.run_id in message and "model" in message

    assert pipeline_run.find_step_run("no-such-step") == []
    with pytest.raises(RunNotFoundError) as info:
        pipeline_run.get_step("no-such-step")
    assert "'no-such-step'" in str(info.value) and pipe.run_id in str(info.value)
    assert "train" in str(info.value)  # says which steps there are
    assert pipeline_run.get_step("train").id == record.run_id


def test_all_errors_are_step_run_errors():
    for cls in (ServiceError, RunNotFoundError, OutputNotFoundError):
        assert issubclass(cls, StepRunError)


@pytest.mark.timeout(60)
def test_server_that_is_down(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    ws = Workspace(url, retries=1)
    experiment = Experiment(ws, "anything")
    with pytest.raises(ServiceError) as info:
        PipelineRun(experiment, MISSING_RUN).get_status()
    message = str(info.value)
    assert url in message and "retries" in message
    assert info.value.url.startswith(url)
    with pytest.raises(ServiceError, match="127.0.0.1"):
        experiment.id  # noqa: B018
    with pytest.raises(ServiceError):
        StepRun(experiment, MISSING_RUN, MISSING_RUN, "n").get_stdout_log()


def test_url_that_is_not_http():
    with pytest.raises(ServiceError, match="not an http"):
        Workspace("file:///tmp/mlruns")


# --- against a tiny local HTTP server that is not MLflow -------------------------------------------
class _Recorder(BaseHTTPRequestHandler):
    """Answers by the first path segment: /401, /500, /html, /badjson, /404html, /echo."""

    seen: list[dict] = []

    def log_message(self, *args):  # keep the test output clean
        pass

    def _send(self, code: int, ctype: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self) -> None:
        type(self).seen.append({"path": self.path, "headers": dict(self.headers)})
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        mode = self.path.strip("/").split("/", 1)[0]
        if mode == "401":
            self._send(401, "text/plain", b"Unauthorized")
        elif mode == "500":
            self._send(500, "text/html", b"<html><body><h1>Internal Server Error</h1></body></html>")
        elif mode == "html":
            self._send(200, "text/html", b"<!doctype html><html><body>Welcome to nginx!</body></html>")
        elif mode == "badjson":
            self._send(200, "application/json", b'{"run": {"info": ')
        elif mode == "404html":  # e.g. a Jupyter server or a proxy: no MLflow API under this URL
            self._send(404, "text/html", b"<html><body><h1>404 Not Found</h1></body></html>")
        elif mode == "echo":  # a server that repeats the credentials it got in its error message
            body = {"error_code": "PERMISSION_DENIED",
                    "message": f"header was {self.headers.get('Authorization')}; token {TOKEN}"}
            self._send(403, "application/json", json.dumps(body).encode())
        else:
            self._send(404, "application/json", b'{"error_code": "ENDPOINT_NOT_FOUND"}')

    do_GET = do_POST = do_PUT = _answer


@pytest.fixture
def fake_server():
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.seen
    server.shutdown()
    server.server_close()
    thread.join(5)


def _all_text(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), str(getattr(exc, "url", "")),
                      "".join(traceback.format_exception(exc))])


@pytest.mark.parametrize(("mode", "expected"), [
    ("401", r"HTTP 401 from http://127\.0\.0\.1:\d+/401/api/2\.0/mlflow/runs/get "
            r"\(the server refused the credentials; a bearer-token credential was sent "
            r"\(token= or MLFLOW_TRACKING_TOKEN\)\)"),
    ("500", r"HTTP 500 from .*/500/api/2\.0/mlflow/runs/get.*an HTML error page"),
    ("html", r"answered HTTP 200 with 'text/html' content that is not MLflow JSON: is this an MLflow"),
    ("badjson", r"answered HTTP 200 with 'application/json' content that is not MLflow JSON"),
    ("echo", r"HTTP 403 .*PERMISSION_DENIED.*header was Bearer \*\*\*.*token \*\*\*"),
])
def test_token_is_sent_as_bearer_and_never_shown(fake_server, mode, expected):
    base, seen = fake_server
    ws = Workspace(f"{base}/{mode}", token=TOKEN, retries=1)
    experiment = Experiment(ws, "exp")
    run = PipelineRun(experiment, MISSING_RUN)
    with pytest.raises(ServiceError, match=expected) as info:
        run.get_status()
    assert TOKEN not in _all_text(info.value)
    assert info.value.status_code in (200, 401, 403, 500)
    for obj in (ws, experiment, run, ws.transport):
        assert TOKEN not in repr(obj) and TOKEN not in str(obj)
    assert seen, "the request reached the fake server"
    assert all(r["headers"].get("Authorization") == f"Bearer {TOKEN}" for r in seen)
    assert all(TOKEN not in r["path"] for r in seen)  # never in the URL
    if mode == "500":
        assert len(seen) == 2  # retried once (retries=1), then a clear error
    else:
        assert len(seen) == 1


def test_a_url_that_is_not_an_mlflow_server_is_not_reported_as_a_missing_run(fake_server):
    # A 404 page without MLflow's error code means "no tracking API here", not "no such run":
    # the error must point at the URL, not send the user hunting for a run id that is fine.
    base, _ = fake_server
    ws = Workspace(f"{base}/404html", retries=0)
    with pytest.raises(ServiceError, match=r"HTTP 404 from http://127\.0\.0\.1:\d+/404html/api/2\.0/mlflow/runs/get"):
        PipelineRun(Experiment(ws, "exp"), MISSING_RUN).get_status()
    with pytest.raises(ServiceError, match=r"HTTP 404 .*/404html/api/2\.0/mlflow/experiments/get-by-name"):
        Experiment(ws, "exp").id  # noqa: B018


def test_token_from_the_environment(fake_server, monkeypatch):
    base, seen = fake_server
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{base}/401")
    monkeypatch.delenv("STEPRUN_TRACKING_URI", raising=False)
    ws = Workspace()
    with pytest.raises(ServiceError) as info:
        Experiment(ws, "exp").id  # noqa: B018
    assert TOKEN not in _all_text(info.value)
    assert seen[-1]["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_password_in_the_url_is_not_shown(fake_server):
    base, seen = fake_server
    host = base.removeprefix("http://")
    ws = Workspace(f"http://alice:pa55word-secret@{host}/401", retries=0)
    with pytest.raises(ServiceError) as info:
        PipelineRun(Experiment(ws, "exp"), MISSING_RUN).get_status()
    assert "pa55word-secret" not in _all_text(info.value)
    assert "pa55word-secret" not in repr(ws)
    assert seen[-1]["headers"]["Authorization"].startswith("Basic ")


def test_no_token_no_authorization_header(fake_server, monkeypatch):
    base, seen = fake_server
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    with pytest.raises(ServiceError):
        PipelineRun(Experiment(Workspace(f"{base}/401"), "exp"), MISSING_RUN).get_status()
    assert "Authorization" not in seen[-1]["headers"]
