"""A step's own sign-in to the embedded server, for plain ``mlflow`` calls in its script.

A step never gets the root's secret: a script that prints its environment would put it into its log,
and from there into widgets and saved notebooks. On the embedded default the runner instead makes an
MLflow user for the step (MLflow's basic-auth user API, as the root's admin) with a fresh random password,
hands it to the step as ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (MLflow's own
variables, so ``mlflow`` in the script signs in by itself), and deletes the user when the step ends: a
password a step printed is dead once the step is over. The user may read and log (the server's default
permission is ``EDIT``), not delete, and not manage users.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

from steprun_widgets.core.rest import MlflowRest
from steprun_widgets.errors import ServiceError, register_secret

__all__ = ["USER_PREFIX", "step_user"]

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
