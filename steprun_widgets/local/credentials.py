"""The embedded server's secret: generated once per root, kept in ``<root>/basic_auth.ini`` (mode 0600).

The embedded server runs MLflow's own basic-auth app (``mlflow server --app-name basic-auth``), so every
request but ``/health`` and the UI's static files needs a user name and password (see
``docs/embedded-server-security.md`` for why this and not a Unix socket). The file is the configuration
MLflow's auth app reads (``MLFLOW_AUTH_CONFIG_PATH``): its ``[mlflow]`` section names the admin user, its
password and the auth database; a ``[steprun]`` section holds the Flask secret key the app also needs.
The owner's processes (``Workspace.local()``, the runner, ``steprun-widgets watch``) read it from the
root; nobody else can, since the root is ``0700`` and the file ``0600``.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from steprun_widgets.errors import StepRunError, register_secret
from steprun_widgets.local.private import FILE_MODE

__all__ = ["AUTH_FILE", "AUTH_DB_FILE", "USERNAME", "LocalCredentials", "ensure_credentials",
           "read_credentials", "server_auth_env"]

AUTH_FILE = "basic_auth.ini"
#: MLflow's auth store (users and their permissions); derived from the secret, rebuilt with it.
AUTH_DB_FILE = "basic_auth.db"
#: The one user of an embedded server: its owner, an MLflow admin.
USERNAME = "steprun"
#: Environment variables of MLflow's auth app that would override the file: never passed to the server.
_OVERRIDES = ("MLFLOW_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_PASSWORD")


@dataclass(frozen=True)
class LocalCredentials:
    """The user name and password of an embedded server (its repr shows neither secret)."""

    username: str
    password: str = field(repr=False)
    #: Flask's secret key for the auth app's CSRF protection (only the server needs it).
    secret_key: str = field(repr=False)
    path: Path

    def __post_init__(self) -> None:
        register_secret(self.password)
        register_secret(self.secret_key)


def ensure_credentials(root: Path) -> tuple[LocalCredentials, bool]:
    """The root's credentials, generated when the root has none yet; and whether they were generated.

    A root without the file (new, or made before the embedded server was protected) gets a fresh
    password; MLflow's auth database of an earlier secret is removed, so that the server's admin user is
    created again with it. An existing file that others could read is tightened to ``0600``.
    """
    path = root / AUTH_FILE
    if path.exists():
        return read_credentials(root), False
    with contextlib.suppress(FileNotFoundError):
        (root / AUTH_DB_FILE).unlink()
    config = configparser.ConfigParser(interpolation=None)
    config["mlflow"] = {
        # The only users are the owner (admin) and the runner's short-lived users of running steps
        # (steprun_widgets.local.step_access), which may read and log, not delete.
        "default_permission": "EDIT",
        "database_uri": f"sqlite:///{root / AUTH_DB_FILE}",
        "admin_username": USERNAME,
        "admin_password": secrets.token_urlsafe(24),
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        # One worker, one user: checking the password hash once a minute instead of on every request
        # (PBKDF2) keeps the embedded server as fast as it was.
        "auth_cache_ttl_seconds": "60",
    }
    config["steprun"] = {"flask_secret_key": secrets.token_urlsafe(32)}
    tmp = root / f".{AUTH_FILE}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("# The embedded MLflow server's secret (steprun-widgets). Keep it mode 0600.\n"
                     "# Sign in to its UI with admin_username / admin_password below.\n")
            config.write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StepRunError(
            f"cannot write the embedded server's secret {path}: {exc.strerror or exc}") from exc
    return read_credentials(root), True


def read_credentials(root: str | os.PathLike) -> LocalCredentials:
    """Read ``<root>/basic_auth.ini`` (tightening it to ``0600`` when it is not)."""
    path = Path(root) / AUTH_FILE
    config = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            mode = os.fstat(fh.fileno()).st_mode & 0o777
            if mode & 0o077 and hasattr(os, "fchmod"):  # Windows: its ACLs apply, not modes
                os.fchmod(fh.fileno(), mode & ~0o077)
            config.read_file(fh)
        section = config["mlflow"]
        found = LocalCredentials(username=section["admin_username"], password=section["admin_password"],
                                 secret_key=config["steprun"]["flask_secret_key"], path=path)
    except FileNotFoundError:
        raise StepRunError(f"the embedded server under {path.parent} has no secret file {path}: start it "
                           "with Workspace.local() or `steprun-widgets server start`") from None
    except (OSError, KeyError, configparser.Error) as exc:
        # The message names the file and the kind of fault, never a line of it (it holds the secret).
        raise StepRunError(
            f"cannot read the embedded server's secret {path} ({type(exc).__name__}); remove the file and "
            "restart the server (`steprun-widgets server stop` then `start`) to make a new one") from None
    if not found.username or not found.password or not found.secret_key:
        raise StepRunError(f"the embedded server's secret {path} is incomplete; remove the file and restart "
                           "the server (`steprun-widgets server stop` then `start`) to make a new one")
    return found


def server_auth_env(env: dict[str, str], credentials: LocalCredentials) -> dict[str, str]:
    """``env`` set up for ``mlflow server --app-name basic-auth`` with these credentials."""
    env = {k: v for k, v in env.items() if k not in _OVERRIDES}
    env["MLFLOW_AUTH_CONFIG_PATH"] = str(credentials.path)
    env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = credentials.secret_key
    return env
