"""Workspace: where runs live, i.e. one tracking server and the credentials to reach it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from steprun_widgets.core.rest import MlflowRest
from steprun_widgets.core.transport import INTERACTIVE_TIMEOUT, Transport
from steprun_widgets.core.v1_names import V1Members
from steprun_widgets.errors import StepRunError

if TYPE_CHECKING:
    from steprun_widgets.core.experiment import Experiment

#: Environment variables that name the tracking server, in the order they are looked at.
URI_ENV = ("STEPRUN_TRACKING_URI", "MLFLOW_TRACKING_URI")



class Workspace(metaclass=V1Members):
    """A tracking server (any MLflow-compatible REST API) and the session used to talk to it.

    ``tracking_uri`` defaults to ``STEPRUN_TRACKING_URI`` then ``MLFLOW_TRACKING_URI`` (a URI
    ending in ``/api/2.0/mlflow`` is understood). Credentials follow MLflow's client: HTTP basic
    auth when a username and a password are known (``username=``/``password=``, else
    ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``), else a bearer token (``token=``,
    else ``MLFLOW_TRACKING_TOKEN``); TLS from ``MLFLOW_TRACKING_INSECURE_TLS``,
    ``MLFLOW_TRACKING_SERVER_CERT_PATH`` and ``MLFLOW_TRACKING_CLIENT_CERT_PATH``.
    """

    def __init__(self, tracking_uri: str | None = None, *, token: str | None = None,
                 username: str | None = None, password: str | None = None,
                 retries: int = 3, timeout: tuple[float, float] = INTERACTIVE_TIMEOUT,
                 read_timeout_retries: int = 0) -> None:
        uri = tracking_uri or next((os.environ[k] for k in URI_ENV if os.environ.get(k)), None)
        if not uri:
            raise StepRunError("No tracking URI: pass Workspace(tracking_uri) or set "
                               "STEPRUN_TRACKING_URI / MLFLOW_TRACKING_URI, or use Workspace.local()")
        self.transport = Transport(uri, token=token, username=username, password=password,
                                   retries=retries, timeout=timeout,
                                   read_timeout_retries=read_timeout_retries)
        self.rest = MlflowRest(self.transport)
        #: Folder of the embedded server's artifact store when this workspace is ``Workspace.local``;
        #: the local runner writes live logs straight into it (see ``steprun_widgets.local``).
        self.local_root: Path | None = None

    @property
    def tracking_uri(self) -> str:
        return self.transport.base_url

    @classmethod
    def local(cls, root: str | os.PathLike | None = None, *, quiet: bool = False) -> Workspace:
        """Start (or reuse) the embedded MLflow server and return its workspace.

        ``root`` is the folder of its store; by default one per person (``$STEPRUN_HOME``, else the
        platform's user data folder), shared by every notebook, script and CLI call of that user. A
        project-local folder (such as the ``.steprun`` of older versions) is used when given. Unless
        ``quiet``, one line says whether the server was started or reused, and where its root is.

        The server lets only its owner in: the workspace signs in with the secret of the root
        (``<root>/basic_auth.ini``, readable by its owner only). The server stops itself after a
        while without requests; a request of this workspace that finds it gone starts it again.
        """
        from steprun_widgets.local.server import ensure_server, read_credentials

        info = ensure_server(root)
        if not quiet:
            verb = "Reusing" if info.reused else "Started"
            print(f"{verb} the embedded MLflow server at {info.url} (root: {info.root})", flush=True)
            legacy = Path(".steprun")
            if root is None and (legacy / "mlflow.db").is_file() and legacy.resolve() != Path(info.root):
                print(f"Note: {legacy.resolve()} holds the store of an older, project-local embedded server; "
                      "Workspace.local('.steprun') opens it (docs/embedded-server.md: how to move it)",
                      flush=True)
        credentials = read_credentials(info.root)
        workspace = cls(info.url, token=None, username=credentials.username, password=credentials.password)
        workspace.local_root = Path(info.root).resolve()
        workspace.transport.place = f"{workspace.transport.display_url} (the embedded server of {info.root})"
        local_root = workspace.local_root
        workspace.transport.follow(lambda: ensure_server(local_root).url)
        return workspace

    @property
    def experiments(self) -> dict[str, Experiment]:
        """Experiment name -> Experiment, for every active experiment on the server (as in Azure
        ML's ``Workspace.experiments``)."""
        from steprun_widgets.core.experiment import Experiment

        found = {}
        for record in self.rest.search_experiments():
            name = record.get("name")
            if isinstance(name, str) and name.strip():
                experiment = Experiment(self, name)
                experiment._id = str(record.get("experiment_id"))
                found[name] = experiment
        return found

    # --- Azure ML v1's data API (steprun_widgets.core.datastore / .dataset) -------------------------
    def get_default_datastore(self):
        """The default datastore (``workspaceblobstore``): files kept by the tracking server."""
        from steprun_widgets.core.datastore import Datastore

        return Datastore.get_default(self)

    @property
    def datastores(self) -> dict:
        """Datastore name -> Datastore (the built-in ones)."""
        from steprun_widgets.core import layout
        from steprun_widgets.core.datastore import Datastore

        return {name: Datastore(self, name) for name in layout.BUILTIN_DATASTORES}

    @property
    def datasets(self) -> dict:
        """Dataset name -> latest registered version."""
        from steprun_widgets.core.dataset import Dataset

        return Dataset.get_all(self)

    @property
    def models(self) -> dict:
        """Model name -> latest version of every model in the server's model registry."""
        from steprun_widgets.core.model import Model

        return Model.list_latest(self)

    def with_endpoint(self, endpoint: str | None) -> Workspace:
        """This workspace, or one for another endpoint with the same credentials."""
        if not endpoint or endpoint.rstrip("/") == self.tracking_uri:
            return self
        t = self.transport
        other = Workspace(endpoint, token=t.token, username=t.username, password=t.password,
                          retries=t.retries, timeout=t.timeout,
                          read_timeout_retries=t.read_timeout_retries)
        other.local_root = self.local_root
        other.transport.follow(self.transport.on_unreachable)
        return other

    def __repr__(self) -> str:
        return f"Workspace({self.transport.display_url!r})"
