"""Secrets: with a token set, it appears in no widget state, saved notebook, HTML export, exception
text, step log or job log — not even when a step prints its whole environment.

The test server ignores authentication; what matters is where the token could end up. The embedded
default's own secret (the password of ``<root>/basic_auth.ini``) is checked the same way, on a
real embedded server that requires it, and also in the runner's files and the server's log.
"""

from __future__ import annotations

import base64
import io
import json
import textwrap
import traceback
from pathlib import Path

import pytest

from steprun_widgets import Experiment, PipelineRun, Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.waiting import wait_for_runs
from steprun_widgets.errors import StepRunError
from steprun_widgets.local import PipelineData
from steprun_widgets.local import server as local_server
from tests.reliability.helpers import (
    closed_port_url,
    json_answer,
    script_step,
    stop_leftovers,
    submit,
    watch_widget,
)

ENV_DUMP = """
import os, sys
from pathlib import Path
for key in sorted(os.environ):
    print(f"{key}={os.environ[key]}")
print("argv", sys.argv)
if len(sys.argv) > 1:
    (Path(sys.argv[1]) / "env.txt").write_text(repr(dict(os.environ)))
"""
ENV_FAIL = """
import os, sys
print(repr(dict(os.environ)), file=sys.stderr)
print("\\n".join(f"{k}={v}" for k, v in os.environ.items()), file=sys.stderr)
sys.exit(2)
"""


def _pipeline(experiment: Experiment, tmp_path: Path):
    env = PipelineData("env")
    return submit(experiment, [script_step(tmp_path, "envdump", ENV_DUMP, outputs=(env,)),
                               script_step(tmp_path, "envfail", ENV_FAIL)])


def _everything_the_client_shows(run, tmp_path: Path, work: Path | None = None) -> list[str]:
    """Every text a user can get at about a finished run: logs, details, widgets, errors, files.

    ``work``: the runner's work folder (its plan and log), by default the one of a remote server's runs.
    """
    texts = []
    out = io.StringIO()
    try:
        wait_for_runs(run, None, True, 90, True, out=out, poll_seconds=0.3)
    except StepRunError as exc:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    texts.append(out.getvalue())
    assert "PATH=" in out.getvalue(), "the environment was printed and streamed"
    texts.append(json.dumps(run.get_details(), default=str))
    for step in run.get_steps():
        texts += [step.get_stdout_log(), step.get_stderr_log(), step.get_job_log(),
                  json.dumps(step.get_details_with_logs(), default=str)]
        widget, browser = watch_widget(step)
        widget.refresh()
        assert widget.watch.final
        texts += [json.dumps(widget.get_state(), default=repr), json.dumps(browser.messages, default=repr),
                  widget.to_html(), json.dumps(widget._repr_mimebundle_(), default=repr)]
    folder = run.find_step_run("envdump")[0].get_output_data("env").download(tmp_path / "dl",
                                                                             show_progress=False)
    texts.append((Path(folder) / "env.txt").read_text())
    work = work or Path("/tmp/steprun-widgets/work") / run.id  # the runner's plan and log (upload sink)
    files = [p for p in work.rglob("*") if p.is_file()]
    assert any(p.name == "runner.log" for p in files), files
    texts += [p.read_text(errors="replace") for p in files]
    assert "envfail" in texts[0] and "exit code 2" in texts[0]
    return texts


def test_token_given_to_the_workspace_leaks_nowhere(mlflow_server, experiment_name, tmp_path, monkeypatch):
    token = "tok-SECRET-given-8c1f2e"
    for name in ("MLFLOW_TRACKING_TOKEN", "STEPRUN_RUNNER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    ws = Workspace(mlflow_server.url, token=token)
    experiment = Experiment(ws, experiment_name)
    try:
        run = _pipeline(experiment, tmp_path)
        texts = _everything_the_client_shows(run, tmp_path)
    finally:
        stop_leftovers(experiment)
    leaks = [t[:200] for t in texts if token in t]
    assert not leaks, leaks
    assert token not in repr(ws)


def test_token_from_the_environment_does_not_reach_a_steps_environment(mlflow_server, experiment_name,
                                                                       tmp_path, monkeypatch):
    """MLFLOW_TRACKING_TOKEN of the submitting kernel: the runner uses it, steps do not see it."""
    token = "tok-SECRET-env-51a9d0"
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw-SECRET-env-77aa")
    monkeypatch.delenv("STEPRUN_RUNNER_TOKEN", raising=False)
    ws = Workspace(mlflow_server.url)
    assert ws.transport.token == token
    experiment = Experiment(ws, experiment_name)
    try:
        run = _pipeline(experiment, tmp_path)
        texts = _everything_the_client_shows(run, tmp_path)
    finally:
        stop_leftovers(experiment)
    for secret in (token, "pw-SECRET-env-77aa"):
        leaks = [t[:200] for t in texts if secret in t]
        assert not leaks, leaks


def test_exception_texts_hold_no_token(fake_server, tmp_path):
    token = "tok-SECRET-errors-0d3b"
    def echo(handler):  # a server that repeats the Authorization header in its error message
        return json_answer({"error_code": "BAD_REQUEST",
                            "message": f"echo {handler.headers.get('Authorization')}"}, 400)

    answers = [lambda _h: json_answer({"error_code": "INTERNAL_ERROR", "message": "boom"}, 500),
               lambda _h: (401, "text/html", b"<html>Unauthorized</html>"), echo,
               lambda _h: (200, "application/json", b"{broken")]
    servers = [closed_port_url(), *(fake_server(answer).url for answer in answers)]
    for url in servers:
        ws = Workspace(url, token=token, retries=1, timeout=(1, 2))
        exp = Experiment(ws, "exp")
        for call in (lambda e=exp: e.id, lambda e=exp: PipelineRun(e, "abc123").get_status(),
                     lambda e=exp: PipelineRun(e, "abc123").wait_for_completion(timeout_seconds=3)):
            with pytest.raises(StepRunError) as info:
                call()
            text = "".join(traceback.format_exception(info.value)) + repr(info.value)
            assert token not in text, text
            assert url in str(info.value)
    with_password = closed_port_url().replace("http://", "http://user:pw-SECRET-url-1234@")
    with pytest.raises(StepRunError) as info:
        _ = Experiment(Workspace(with_password, retries=1, timeout=(1, 2)), "exp").id
    assert "pw-SECRET-url-1234" not in "".join(traceback.format_exception(info.value))


@pytest.fixture(scope="module")
def local_root(tmp_path_factory):
    """The root of a real embedded server (basic auth, a generated secret), stopped at the end."""
    root = tmp_path_factory.mktemp("secrets-local") / ".steprun"
    local_server.ensure_server(root)
    try:
        yield root
    finally:
        local_server.stop_server(root)


def _local_secrets(root: Path) -> list[str]:
    creds = local_server.read_credentials(root)
    header = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    return [creds.password, creds.secret_key, header]


def test_the_embedded_servers_secret_leaks_nowhere(local_root, experiment_name, tmp_path, monkeypatch):
    """Workspace.local signs in with the root's password: not in logs, widgets, errors, files, server log."""
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "STEPRUN_RUNNER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    ws = Workspace.local(local_root)
    assert ws.transport.password, "the embedded server needs its secret"
    experiment = Experiment(ws, experiment_name)
    try:
        run = _pipeline(experiment, tmp_path)
        texts = _everything_the_client_shows(run, tmp_path, work=local_root / "work" / run.id)
    finally:
        stop_leftovers(experiment)
    texts.append((local_root / "server.log").read_text(errors="replace"))
    texts.append(repr(ws) + repr(local_server.read_credentials(local_root)))
    for secret in _local_secrets(local_root):
        leaks = [t[:200] for t in texts if secret in t]
        assert not leaks, leaks


def test_a_server_that_echoes_the_basic_auth_header_puts_no_password_in_the_error(fake_server):
    password = "pw-SECRET-basic-4c2e"

    def echo(handler):
        return json_answer({"error_code": "BAD_REQUEST",
                            "message": f"echo {handler.headers.get('Authorization')}"}, 400)

    ws = Workspace(fake_server(echo).url, username="someone", password=password, retries=1, timeout=(1, 2))
    with pytest.raises(StepRunError) as info:
        _ = Experiment(ws, "exp").id
    header = base64.b64encode(f"someone:{password}".encode()).decode()
    text = "".join(traceback.format_exception(info.value)) + repr(info.value)
    assert "echo" in text and password not in text and header not in text, text


NOTEBOOK = [
    "from steprun_widgets import Workspace, Experiment, StepRunWidget\n"
    "from steprun_widgets.local import Pipeline, PythonScriptStep, PipelineData\n"
    "ws = {workspace}\n"
    "print(ws, ws.transport.token is not None or ws.transport.password is not None)",
    "env = PipelineData('env')\n"
    "step = PythonScriptStep('envdump.py', name='envdump', arguments=[env], outputs=[env],\n"
    "                        source_directory={src!r}, allow_reuse=False)\n"
    "run = Experiment(ws, {experiment!r}).submit(Pipeline(ws, [step]))\n"
    "step_run = run.find_step_run('envdump')[0]\n"
    "widget = StepRunWidget(step_run)\n"
    "widget",
    "from steprun_widgets import PipelineRunWidget\n"
    "PipelineRunWidget(run)",
    "run.wait_for_completion(show_output=True, timeout_seconds=120)",
    "widget.refresh()\n"
    "print(sorted(widget.get_state()))\n"
    "print(step_run.get_details_with_logs()['logFiles'])\n"
    "widget",
    "from steprun_widgets import PipelineRun\n"
    "PipelineRun(Experiment(Workspace({closed!r}), 'x'), 'abc123').get_status()",
]


def test_saved_notebook_and_html_export_hold_no_token(mlflow_server, experiment_name, tmp_path, monkeypatch):
    """A notebook run by a kernel whose environment has MLFLOW_TRACKING_TOKEN, saved and exported."""
    token = "tok-SECRET-notebook-93e7"
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("STEPRUN_TRACKING_URI", mlflow_server.url)
    monkeypatch.delenv("STEPRUN_RUNNER_TOKEN", raising=False)
    _notebook_holds_none_of([token], "Workspace()", Workspace(mlflow_server.url), experiment_name, tmp_path)


def test_saved_notebook_and_html_export_hold_no_local_secret(local_root, experiment_name, tmp_path,
                                                              monkeypatch):
    """The same notebook on the embedded default (Workspace.local): the root's secret stays out of it."""
    for name in ("MLFLOW_TRACKING_TOKEN", "STEPRUN_TRACKING_URI", "STEPRUN_RUNNER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    _notebook_holds_none_of(_local_secrets(local_root), f"Workspace.local({str(local_root)!r}, quiet=True)",
                            Workspace.local(local_root), experiment_name, tmp_path)


def _notebook_holds_none_of(secrets: list[str], workspace: str, owner: Workspace, experiment_name: str,
                            tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    src = tmp_path / "src"
    src.mkdir()
    (src / "envdump.py").write_text(textwrap.dedent(ENV_DUMP), encoding="utf-8")
    cells = [c.format(src=str(src), experiment=experiment_name, closed=closed_port_url(), workspace=workspace)
             for c in NOTEBOOK]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=True,
                            store_widget_state=True, resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    finally:
        stop_leftovers(Experiment(owner, experiment_name))
    saved = tmp_path / "executed.ipynb"
    nbformat.write(nb, saved)
    text = saved.read_text(encoding="utf-8")
    html, _ = HTMLExporter().from_notebook_node(nbformat.read(saved, as_version=4))

    assert "application/vnd.jupyter.widget-state+json" in text, "the widget state was saved"
    assert "PATH=" in text and "Finished" in text, "the step's environment was streamed into the notebook"
    assert "ServiceError" in text, "the error cell's traceback is in the notebook"
    assert "True" in nb.cells[0].outputs[0]["text"], "the kernel had the secret"
    for secret in secrets:
        assert secret not in text, [line[:200] for line in text.splitlines() if secret in line]
        assert secret not in html
    assert layout.FINISHED in html


def test_widget_on_a_server_that_turns_bad_says_reconnecting_without_the_token(fake_server):
    """A widget whose server starts answering HTML 502 pages: "reconnecting", URL named, no token."""
    from urllib.parse import urlsplit

    from steprun_widgets import StepRun, StepRunWidget

    token = "tok-SECRET-widget-6f2a"
    run = {"info": {"run_id": "abc123", "experiment_id": "1", "status": "RUNNING",
                    "artifact_uri": "mlflow-artifacts:/1/abc123/artifacts"}, "data": {"tags": []}}
    mode = {"bad": False}

    def answer(handler):
        if mode["bad"]:
            return 502, "text/html", b"<html><h1>502 Bad Gateway</h1></html>"
        path = urlsplit(handler.path).path
        if path.endswith("/runs/get"):
            return json_answer({"run": run})
        if path.endswith("/runs/search"):
            return json_answer({"runs": [run]})
        if path.endswith("/artifacts/list"):
            return json_answer({"files": []})
        return json_answer({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such file"}, 404)

    server = fake_server(answer)
    ws = Workspace(server.url, token=token, retries=1, timeout=(1, 2))
    widget = StepRunWidget(StepRun(Experiment(ws, "exp"), "abc123", "p", None), poll=False)
    widget.refresh()
    assert widget.status == layout.RUNNING and widget.connection == "ok"
    mode["bad"] = True
    widget.refresh()
    assert widget.connection == "reconnecting" and server.url in widget.connection_detail
    assert f"Bearer {token}" in server.auth_headers, "the token was sent, in the header only"
    state = json.dumps(widget.get_state(), default=repr) + widget.to_html()
    assert token not in state and "502" in widget.connection_detail
    mode["bad"] = False
    widget.refresh()
    assert widget.connection == "ok" and widget.connection_detail == ""
    widget.close()
