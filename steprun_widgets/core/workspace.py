"""Workspace: where runs live, i.e. one tracking server and the credentials to reach it."""

from __future__ import annotations

import os
from pathlib import Path

from steprun_widgets.core.rest import MlflowRest
from steprun_widgets.core.transport import Transport
from steprun_widgets.errors import StepRunError

#: Environment variables that name the tracking server, in the order they are looked at.
URI_ENV = ("STEPRUN_TRACKING_URI", "MLFLOW_TRACKING_URI")
TOKEN_ENV = "MLFLOW_TRACKING_TOKEN"


class Workspace:
    """A tracking server (any MLflow-compatible REST API) and the session used to talk to it.

    ``tracking_uri`` defaults to ``STEPRUN_TRACKING_URI`` then ``MLFLOW_TRACKING_URI``; ``token``
    defaults to ``MLFLOW_TRACKING_TOKEN`` and is sent as ``Authorization: Bearer``; ``username`` and
    ``password`` default to ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` and are sent as
    HTTP basic auth, which wins when a token is set too.
    """

    def __init__(self, tracking_uri: str | None = None, *, token: str | None = None,
                 username: str | None = None, password: str | None = None,
                 retries: int = 3, timeout: tuple[float, float] = (5.0, 30.0)) -> None:
        uri = tracking_uri or next((os.environ[k] for k in URI_ENV if os.environ.get(k)), None)
        if not uri:
            raise StepRunError("No tracking URI: pass Workspace(tracking_uri) or set "
                               "STEPRUN_TRACKING_URI / MLFLOW_TRACKING_URI, or use Workspace.local()")
        if token is None:
            token = os.environ.get(TOKEN_ENV) or None
        self.transport = Transport(uri, token=token, username=username, password=password,
                                   retries=retries, timeout=timeout)
        self.rest = MlflowRest(self.transport)
        #: Folder of the embedded server's artifact store when this workspace is ``Workspace.local``;
        #: the local runner writes live logs straight into it (see ``steprun_widgets.local``).
        self.local_root: Path | None = None

    @property
    def tracking_uri(self) -> str:
        return self.transport.base_url

    @classmethod
    def local(cls, root: str | os.PathLike = ".steprun") -> Workspace:
        """Start (or reuse) the embedded MLflow server under ``root`` and return its workspace.

        The server lets only its owner in: the workspace signs in with the secret of the root
        (``<root>/basic_auth.ini``, readable by its owner only).
        """
        from steprun_widgets.local.server import ensure_server, read_credentials

        info = ensure_server(root)
        credentials = read_credentials(info.root)
        workspace = cls(info.url, token=None, username=credentials.username, password=credentials.password)
        workspace.local_root = Path(info.root).resolve()
        return workspace

    def with_endpoint(self, endpoint: str | None) -> Workspace:
        """This workspace, or one for another endpoint with the same credentials."""
        if not endpoint or endpoint.rstrip("/") == self.tracking_uri:
            return self
        other = Workspace(endpoint, token=self.transport.token, username=self.transport.username,
                          password=self.transport.password, retries=self.transport.retries,
                          timeout=self.transport.timeout)
        other.local_root = self.local_root
        return other

    def __repr__(self) -> str:
        return f"Workspace({self.transport.display_url!r})"
