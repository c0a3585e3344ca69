"""Credentials and TLS settings resolved as MLflow's client resolves them (one function, no server:
the real basic-auth app and nginx are in tests/servers/test_auth_and_tls.py)."""

from __future__ import annotations

import pytest

from steprun_widgets.core.credentials import BASIC, BEARER, NONE, resolve
from steprun_widgets.errors import StepRunError, redact

ENV = {"MLFLOW_TRACKING_USERNAME": "env-user", "MLFLOW_TRACKING_PASSWORD": "env-password-1",
       "MLFLOW_TRACKING_TOKEN": "env-token-1"}


def test_basic_auth_wins_over_a_token_as_in_mlflow():
    creds = resolve(environ=ENV)
    assert creds.kind == BASIC and (creds.username, creds.password) == ("env-user", "env-password-1")
    assert creds.token == "env-token-1"  # kept, but not what is sent
    assert resolve(token="t-1234", environ=ENV).kind == BASIC
    assert resolve(environ={"MLFLOW_TRACKING_TOKEN": "env-token-1"}).kind == BEARER
    # A username without a password is no basic auth: the token goes.
    assert resolve(environ={**ENV, "MLFLOW_TRACKING_PASSWORD": ""}).kind == BEARER
    assert resolve(environ={}).kind == NONE


def test_explicit_arguments_then_the_url_then_the_environment():
    creds = resolve(username="arg-user", password="arg-password", url_username="url-user",
                    url_password="url-password", environ=ENV)
    assert (creds.username, creds.password) == ("arg-user", "arg-password")
    creds = resolve(url_username="url-user", url_password="url-password", environ=ENV)
    assert (creds.username, creds.password) == ("url-user", "url-password")
    assert resolve(token="arg-token", environ={"MLFLOW_TRACKING_TOKEN": "x"}).token == "arg-token"


def test_the_password_and_the_token_are_secrets():
    resolve(password="a-password-to-hide", token="a-token-to-hide", environ={})
    assert redact("a-password-to-hide and a-token-to-hide") == "*** and ***"


@pytest.mark.parametrize(("value", "verify"), [("true", False), ("TRUE", False), ("1", False),
                                               ("false", True), ("0", True), ("", True)])
def test_insecure_tls_is_read_as_mlflow_reads_it(value, verify):
    assert resolve(environ={"MLFLOW_TRACKING_INSECURE_TLS": value}).verify is verify


def test_tls_settings_that_cannot_work_are_refused(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked here", encoding="ascii")
    assert resolve(environ={"MLFLOW_TRACKING_SERVER_CERT_PATH": str(bundle)}).verify == str(bundle)
    assert resolve(environ={"MLFLOW_TRACKING_CLIENT_CERT_PATH": str(bundle)}).client_cert == str(bundle)
    with pytest.raises(StepRunError, match="only one"):
        resolve(environ={"MLFLOW_TRACKING_INSECURE_TLS": "true",
                         "MLFLOW_TRACKING_SERVER_CERT_PATH": str(bundle)})
    with pytest.raises(StepRunError, match="MLFLOW_TRACKING_INSECURE_TLS='yes' is not a boolean"):
        resolve(environ={"MLFLOW_TRACKING_INSECURE_TLS": "yes"})
    with pytest.raises(StepRunError, match="MLFLOW_TRACKING_CLIENT_CERT_PATH names .*not a file"):
        resolve(environ={"MLFLOW_TRACKING_CLIENT_CERT_PATH": str(tmp_path / "missing.pem")})
