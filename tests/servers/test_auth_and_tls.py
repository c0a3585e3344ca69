"""Credentials and transport as MLflow's client has them, against real things: MLflow's own
basic-auth app, and a real nginx terminating TLS (a CA made for the test) under a path prefix."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from steprun_widgets import Experiment, PipelineRun, Workspace
from steprun_widgets.core import layout
from steprun_widgets.errors import ServiceError, StepRunError
from tests.mlflow_server import MlflowServer
from tests.runlayout import RunLayout
from tests.servers.proxies import Nginx, make_certs, nginx_binary

pytestmark = pytest.mark.servers

ADMIN, ADMIN_PASSWORD = "admin", "steprun-admin-Passw0rd-long"
READER, READER_PASSWORD = "reader", "steprun-reader-Passw0rd-long"
CRED_ENV = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
            "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH",
            "MLFLOW_TRACKING_CLIENT_CERT_PATH")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in CRED_ENV:
        monkeypatch.delenv(name, raising=False)


# --- MLflow's basic-auth app ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("basic-auth")
    config = folder / "auth.ini"
    config.write_text(f"""[mlflow]
default_permission = READ
database_uri = sqlite:///{folder / 'auth.db'}
admin_username = {ADMIN}
admin_password = {ADMIN_PASSWORD}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
""", encoding="utf-8")
    server = MlflowServer(folder, args=("--artifacts-destination", str(folder / "artifacts"),
                                        "--app-name", "basic-auth"),
                          env={"MLFLOW_AUTH_CONFIG_PATH": str(config),
                               "MLFLOW_FLASK_SERVER_SECRET_KEY": "steprun-test-secret-key"}).start()
    answer = requests.post(f"{server.url}/api/2.0/mlflow/users/create", timeout=30,
                           json={"username": READER, "password": READER_PASSWORD},
                           auth=(ADMIN, ADMIN_PASSWORD))
    assert answer.ok, answer.text
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth_pipeline(auth_server):
    """A finished pipeline with one step and its stdout, written by the admin."""
    ws = Workspace(auth_server.url, username=ADMIN, password=ADMIN_PASSWORD)
    runs = RunLayout(ws, "auth-tests")
    pipe = runs.pipeline(steps=["s"], status=layout.FINISHED)
    step = runs.step(pipe, "s", status=layout.FINISHED)
    runs.log(step, "stdout", "hello from behind a login\n")
    ws.transport.close()
    return pipe.run_id


def _read(url: str, run_id: str, **credentials) -> tuple[str, str]:
    ws = Workspace(url, **credentials)
    try:
        run = PipelineRun(Experiment(ws, "auth-tests"), run_id)
        return run.get_status(), run.get_step("s").get_stdout_log()
    finally:
        ws.transport.close()


def test_basic_auth_from_arguments_and_from_the_environment(auth_server, auth_pipeline, monkeypatch):
    expected = (layout.FINISHED, "hello from behind a login\n")
    assert _read(auth_server.url, auth_pipeline, username=READER, password=READER_PASSWORD) == expected
    # All three set, as the issue saw: MLflow's client prefers basic auth, so do we.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", READER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", READER_PASSWORD)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "a-token-the-server-does-not-know")
    assert _read(auth_server.url, auth_pipeline) == expected
    # Explicit arguments come before the environment.
    with pytest.raises(ServiceError, match="HTTP 401"):
        _read(auth_server.url, auth_pipeline, username=READER, password="wrong-password-1")


def test_401_says_which_credential_was_sent_and_what_the_server_said(auth_server, auth_pipeline):
    cases = {
        "HTTP basic-auth credentials were sent": {"username": READER, "password": "not-the-Passw0rd"},
        "a bearer-token credential was sent": {"token": "not-a-token-it-knows"},
        "no credentials were sent": {},
    }
    for sent, credentials in cases.items():
        with pytest.raises(ServiceError) as info:
            _read(auth_server.url, auth_pipeline, **credentials)
        text = str(info.value)
        assert info.value.status_code == 401 and "the server refused the credentials" in text
        assert sent in text, text
        assert "You are not authenticated" in text, text  # the server's own words
        for secret in credentials.values():
            assert secret not in text


def test_403_names_the_credential_and_the_server_message(auth_server, auth_pipeline):
    ws = Workspace(auth_server.url, username=READER, password=READER_PASSWORD)
    experiment_id = ws.rest.get_experiment_by_name("auth-tests")["experiment_id"]
    with pytest.raises(ServiceError) as info:  # READ permission: no new run in that experiment
        ws.rest.create_run(str(experiment_id), name="not-allowed", tags={})
    text = str(info.value)
    assert info.value.status_code == 403 and "denied access with these credentials" in text
    assert "HTTP basic-auth credentials were sent" in text and "Permission denied" in text, text
    assert READER_PASSWORD not in text
    ws.transport.close()


# --- nginx: TLS under a path prefix -----------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_proxy(mlflow_server, tmp_path_factory):
    if nginx_binary() is None:
        pytest.fail("nginx is not installed: scripts/test.sh installs the Debian package")
    folder = tmp_path_factory.mktemp("nginx")
    proxy = Nginx(folder / "run", mlflow_server.url, make_certs(folder / "certs")).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def proxied_pipeline(mlflow_server):
    ws = Workspace(mlflow_server.url)
    runs = RunLayout(ws, "behind-nginx")
    pipe = runs.pipeline(steps=["s"], status=layout.FINISHED)
    step = runs.step(pipe, "s", status=layout.FINISHED)
    runs.log(step, "stdout", "".join(f"line {i} ✓\n" for i in range(2000)))
    runs.output(step, "model", {"w.bin": bytes(range(256)) * 64})
    ws.transport.close()
    return pipe.run_id


def _open(url: str, run_id: str) -> tuple[Workspace, PipelineRun]:
    ws = Workspace(url)
    return ws, PipelineRun(Experiment(ws, "behind-nginx"), run_id)


def test_tls_under_a_path_prefix_with_the_server_cert(tls_proxy, proxied_pipeline, monkeypatch,
                                                      tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(tls_proxy.certs.ca))
    urls = (tls_proxy.url, tls_proxy.url + "/api/2.0/mlflow", tls_proxy.url + "/api/2.0/mlflow/")
    for i, url in enumerate(urls):
        ws, run = _open(url, proxied_pipeline)
        assert ws.tracking_uri == tls_proxy.url
        assert run.get_status() == layout.FINISHED
        step = run.get_step("s")
        reader = step.log_reader("stdout")
        first = reader.read_new(max_bytes=1000)  # ranged reads pass through the proxy
        assert first.new_bytes == 1000
        assert first.text + reader.read_all() == "".join(f"line {i} ✓\n" for i in range(2000))
        target = step.get_output_data("model").download(local_path=tmp_path / str(i),
                                                        show_progress=False)
        assert (Path(target) / "w.bin").read_bytes() == bytes(range(256)) * 64
        assert target.endswith("model")
        ws.transport.close()


def test_tls_checks_the_certificate_unless_told_not_to(tls_proxy, proxied_pipeline, monkeypatch):
    ws, run = _open(tls_proxy.url, proxied_pipeline)
    with pytest.raises(ServiceError, match=r"TLS with the tracking server at https://127\.0\.0\.1"
                       r".*certificate verify failed.*MLFLOW_TRACKING_SERVER_CERT_PATH"):
        run.get_status()
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    ws, run = _open(tls_proxy.url, proxied_pipeline)
    assert run.get_status() == layout.FINISHED
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(tls_proxy.certs.ca))
    with pytest.raises(StepRunError, match="MLFLOW_TRACKING_INSECURE_TLS.*MLFLOW_TRACKING_SERVER_CERT_PATH"):
        Workspace(tls_proxy.url)
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "maybe")
    with pytest.raises(StepRunError, match="MLFLOW_TRACKING_INSECURE_TLS='maybe' is not a boolean"):
        Workspace(tls_proxy.url)


def test_client_certificate(tls_proxy, proxied_pipeline, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(tls_proxy.certs.ca))
    ws, run = _open(tls_proxy.mtls_url, proxied_pipeline)
    with pytest.raises(ServiceError, match="HTTP 400.*No required SSL certificate was sent"):
        run.get_status()
    monkeypatch.setenv("MLFLOW_TRACKING_CLIENT_CERT_PATH", str(tls_proxy.certs.client_bundle))
    ws, run = _open(tls_proxy.mtls_url, proxied_pipeline)
    assert run.get_status() == layout.FINISHED
    assert run.get_step("s").get_stdout_log().startswith("line 0 ✓\n")


def test_a_missing_path_prefix_is_suggested(tls_proxy, proxied_pipeline, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(tls_proxy.certs.ca))
    ws, run = _open(tls_proxy.url.rsplit("/", 1)[0], proxied_pipeline)  # the prefix left out
    with pytest.raises(ServiceError) as info:
        run.get_status()
    text = str(info.value)
    assert info.value.status_code == 404 and "path prefix" in text and "an HTML error page" in text


def test_ipv6_hosts_keep_their_brackets():
    ws = Workspace("http://[::1]:5000/mlflow/api/2.0/mlflow")
    assert ws.tracking_uri == "http://[::1]:5000/mlflow"
    assert repr(ws) == "Workspace('http://[::1]:5000/mlflow')"
    user = Workspace("https://someone:pa55word-x@[fe80::1]:8443/")
    assert user.tracking_uri == "https://[fe80::1]:8443" and "pa55word-x" not in repr(user)
    assert user.transport.credentials.kind == "basic"
