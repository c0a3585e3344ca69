"""How to reach a tracking server: its credentials and TLS settings, as MLflow's own client has them.

MLflow's conventions (``mlflow/utils/credentials.py`` and ``rest_utils.http_request``): HTTP basic
auth when a username *and* a password are known, else a bearer token; ``MLFLOW_TRACKING_INSECURE_TLS``
turns certificate checks off, ``MLFLOW_TRACKING_SERVER_CERT_PATH`` is the CA bundle to check the
server with (the two exclude each other), ``MLFLOW_TRACKING_CLIENT_CERT_PATH`` a client certificate.
Explicit arguments come first, then credentials in the URL (``https://user:pw@host``), then the
environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from steprun_widgets.errors import StepRunError, register_secret

USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"
TOKEN_ENV = "MLFLOW_TRACKING_TOKEN"
INSECURE_TLS_ENV = "MLFLOW_TRACKING_INSECURE_TLS"
SERVER_CERT_ENV = "MLFLOW_TRACKING_SERVER_CERT_PATH"
CLIENT_CERT_ENV = "MLFLOW_TRACKING_CLIENT_CERT_PATH"

BASIC = "basic"
BEARER = "bearer"
NONE = "none"


@dataclass(frozen=True)
class Credentials:
    """What a transport sends to authenticate, and how it checks the server's certificate."""

    username: str | None = None
    password: str | None = None
    token: str | None = None
    #: ``requests``' ``verify``: True, False (insecure) or the path of a CA bundle.
    verify: bool | str = True
    #: ``requests``' ``cert``: the path of a client certificate (PEM, key included), or None.
    client_cert: str | None = None

    @property
    def kind(self) -> str:
        """``basic`` when a username and a password are set (MLflow prefers it), else ``bearer``
        when a token is, else ``none``."""
        if self.username and self.password:
            return BASIC
        if self.token:
            return BEARER
        return NONE

    def describe(self) -> str:
        """Which kind of credential is sent, for an error message (never a value)."""
        if self.kind == BASIC:
            return (f"HTTP basic-auth credentials were sent (username=/password= or "
                    f"{USERNAME_ENV}/{PASSWORD_ENV})")
        if self.kind == BEARER:
            return f"a bearer-token credential was sent (token= or {TOKEN_ENV})"
        return (f"no credentials were sent: pass username=/password= or token=, or set "
                f"{USERNAME_ENV}/{PASSWORD_ENV} or {TOKEN_ENV}")


def resolve(*, token: str | None = None, username: str | None = None, password: str | None = None,
            url_username: str | None = None, url_password: str | None = None,
            environ: Mapping[str, str] | None = None) -> Credentials:
    """The credentials to use: explicit arguments, then the URL's, then the environment."""
    env = os.environ if environ is None else environ
    user = username or url_username or env.get(USERNAME_ENV) or None
    secret = password or url_password or env.get(PASSWORD_ENV) or None
    tok = token or env.get(TOKEN_ENV) or None
    register_secret(secret)
    register_secret(tok)
    insecure = _flag(env, INSECURE_TLS_ENV)
    server_cert = env.get(SERVER_CERT_ENV) or None
    client_cert = env.get(CLIENT_CERT_ENV) or None
    if insecure and server_cert:
        raise StepRunError(f"{INSECURE_TLS_ENV} is true and {SERVER_CERT_ENV} is set: set only one "
                           "(skip certificate checks, or check the server with that CA bundle)")
    for name, path in ((SERVER_CERT_ENV, server_cert), (CLIENT_CERT_ENV, client_cert)):
        if path and not Path(path).is_file():
            raise StepRunError(f"{name} names {path!r}, which is not a file")
    verify: bool | str = server_cert if server_cert else not insecure
    return Credentials(username=user, password=secret, token=tok, verify=verify,
                       client_cert=client_cert)


def _flag(env: Mapping[str, str], name: str) -> bool:
    """A boolean variable read as MLflow reads it: true/false/1/0 in any case; unset is false."""
    value = env.get(name)
    if value is None or value == "":
        return False
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise StepRunError(f"{name}={value!r} is not a boolean: use true, false, 1 or 0")
