"""A step's own sign-in to the embedded server, for plain ``mlflow`` calls in its script.

A step never gets the root's secret: a script that prints its environment would put it into its log,
and from there into widgets and saved notebooks. On the embedded default the runner instead makes an
MLflow user for the step (MLflow's basic-auth user API, as the root's admin) with a fresh random password,
hands it to the step as ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (MLflow's own
variables, so ``mlflow`` in the script signs in by itself), and deletes the user when the step ends: a
password a step printed is dead once the step is over. The user may read and log (the server's default
permission is ``EDIT``), not delete, and not manage users.

A runner killed outright (SIGKILL, a machine that lost power) cannot delete its steps' users: the next
runner started on the same embedded server removes them (:func:`sweep_step_users`), i.e. every user of
a step whose run has ended, no longer exists, or whose pipeline's runner no longer holds its work folder.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from steprun_widgets.core import layout
from steprun_widgets.core.rest import MlflowRest
from steprun_widgets.errors import RunNotFoundError, ServiceError, register_secret
from steprun_widgets.local import workarea
from steprun_widgets.local.credentials import AUTH_DB_FILE

__all__ = ["USER_PREFIX", "step_user", "sweep_step_users"]

USER_PREFIX = "step-"
_USERS = "/api/2.0/mlflow/users"


@contextlib.contextmanager
def step_user(rest: MlflowRest, run_id: str) -> Iterator[dict[str, str]]:
    """A user for the step of ``run_id`` while the block runs: yields the variables for its environment.

    ``rest`` signs in as the embedded server's admin. A user left by an earlier attempt at the same step
    (a runner that was killed) gets the new password. The user is deleted when the block ends, however.
    """
    username = f"{USER_PREFIX}{run_id}"
    password = secrets.token_urlsafe(24)
    register_secret(password)
    transport = rest.transport
    try:
        transport.request("POST", f"{_USERS}/create", json_body={"username": username, "password": password})
    except ServiceError as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        transport.request("PATCH", f"{_USERS}/update-password",
                          json_body={"username": username, "password": password})
    try:
        yield {"MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password}
    finally:
        # The runner's transport already waited out a restarting server (about two minutes); a server
        # that is still down keeps the user, whose password then still works after the step.
        with contextlib.suppress(ServiceError):
            transport.request("DELETE", f"{_USERS}/delete", json_body={"username": username})


def step_usernames(root: Path) -> list[str]:
    """The step users of the embedded server of ``root``, read from its basic-auth database.

    MLflow's user API has no way to list users; the database is the server's own SQLite file under
    the root (readable by the root's owner only), opened read-only.
    """
    db = Path(root) / AUTH_DB_FILE
    if not db.is_file():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            rows = conn.execute("SELECT username FROM users WHERE username LIKE ?",
                                (f"{USER_PREFIX}%",)).fetchall()
    except sqlite3.Error:
        return []
    return [row[0] for row in rows if isinstance(row[0], str)]


def sweep_step_users(rest: MlflowRest, root: Path) -> list[str]:
    """Delete the users of steps whose runner is gone; returns the user names deleted.

    A user stays while its step run is open and the runner of its pipeline still holds the pipeline's
    work folder (a live runner always does); it goes when the run ended, no longer exists, or that
    runner is gone. ``rest`` signs in as the embedded server's admin.
    """
    deleted = []
    area = workarea.work_area(Path(root))
    for username in step_usernames(root):
        run_id = username[len(USER_PREFIX):]
        try:
            run = rest.get_run(run_id)
            pipeline = run.tags.get(layout.TAG_PIPELINE, "")
            alive = (not layout.is_terminal(run.azureml_status()) and bool(pipeline)
                     and workarea.is_held(area / pipeline))
        except RunNotFoundError:
            alive = False
        except ServiceError:
            continue  # the server cannot say: keep it, the next sweep decides
        if alive:
            continue
        with contextlib.suppress(ServiceError):
            rest.transport.request("DELETE", f"{_USERS}/delete", json_body={"username": username})
            deleted.append(username)
    return deleted
