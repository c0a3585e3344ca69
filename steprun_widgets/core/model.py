"""Azure ML v1's ``Model`` on MLflow's model registry (``registered-models`` / ``model-versions`` REST).

A v1 model is a registered model version of the tracking server: ``Model.register(ws, model_path,
model_name)`` uploads the local file or folder to a run of the experiment ``steprun.models`` and
registers it from there (source ``runs:/<run id>/model/...``); ``run.register_model(name, path)``
registers an artifact path of a pipeline or step run. MLflow's UI, ``mlflow.pyfunc.load_model(
"models:/<name>/<version>")`` and ``mlflow models serve`` see the same versions.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from steprun_widgets.core import layout
from steprun_widgets.core.datastore import clean_path, download_files, select_files
from steprun_widgets.core.rest import MlflowRest
from steprun_widgets.core.transport import API
from steprun_widgets.core.v1_names import V1Members
from steprun_widgets.errors import ServiceError, StepRunError

if TYPE_CHECKING:
    from steprun_widgets.core.workspace import Workspace

#: Where v1 puts a model it downloads for ``Model.get_model_path`` (relative to the working folder).
MODELS_FOLDER = "azureml-models"


class ModelError(StepRunError):
    """A model cannot be registered, found or downloaded as asked."""


def _tags(tags: dict | None) -> list[dict]:
    return [{"key": str(k), "value": str(v)} for k, v in (tags or {}).items()]


def _ensure_registered_model(rest: MlflowRest, name: str, description: str | None) -> None:
    body: dict[str, Any] = {"name": name}
    if description:
        body["description"] = description
    try:
        rest.transport.post_json(f"{API}/registered-models/create", body)
    except ServiceError as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def create_version(rest: MlflowRest, name: str, run_id: str, path: str, tags: dict | None = None,
                   description: str | None = None) -> dict:
    """Register the artifact ``path`` of run ``run_id`` as a new version of model ``name``."""
    if not isinstance(name, str) or not name.strip():
        raise ModelError(f"Model name {name!r} is not valid")
    path = clean_path(path, "model_path")
    if not rest.walk_artifacts(run_id, path) and not select_files(rest, run_id, path)[0]:
        raise ModelError(f"Model {name!r}: run {run_id!r} has no artifact {path!r} to register")
    _ensure_registered_model(rest, name, description)
    body: dict[str, Any] = {"name": name, "source": f"runs:/{run_id}/{path}", "run_id": run_id,
                            "tags": _tags(tags)}
    if description:
        body["description"] = description
    return rest.transport.post_json(f"{API}/model-versions/create", body)["model_version"]


def _versions(rest: MlflowRest, name: str) -> list[dict]:
    safe = name.replace("'", "\\'")
    found, token = [], None
    while True:
        params: dict[str, Any] = {"filter": f"name='{safe}'", "max_results": 1000}
        if token:
            params["page_token"] = token
        body = rest.transport.get_json(f"{API}/model-versions/search", params)
        found.extend(body.get("model_versions", []))
        token = body.get("next_page_token")
        if not token:
            return found


class Model(metaclass=V1Members):
    """A registered model version (v1's ``azureml.core.Model``): ``name``, ``version``, ``id``
    (``name:version``), ``tags``, ``description``, ``run_id``; ``download(target_dir)``."""

    def __init__(self, workspace: Workspace, name: str | None = None, id: str | None = None,
                 tags: Any = None, properties: Any = None, version: int | str | None = None,
                 run_id: str | None = None, _record: dict | None = None) -> None:
        self.workspace = workspace
        if id is not None and name is None:
            name, _, given = str(id).partition(":")
            version = version or given or None
        if not name and _record is None:
            raise ModelError("Model(ws, name=...) needs a model name (or id='name:version')")
        record = _record or self._find(workspace.rest, name, version, run_id)
        self._apply(record)

    @staticmethod
    def _find(rest: MlflowRest, name: str, version: Any, run_id: str | None) -> dict:
        versions = _versions(rest, name)
        if run_id:
            versions = [v for v in versions if v.get("run_id") == run_id]
        if version is not None:
            versions = [v for v in versions if str(v.get("version")) == str(version)]
        if not versions:
            what = f"version {version}" if version is not None else "any version"
            raise ModelError(f"Model {name!r} has {what} registered on {rest.transport.display_url}"
                             .replace(" has ", " has no ", 1))
        return max(versions, key=lambda v: int(v.get("version", 0)))

    def _apply(self, record: dict) -> None:
        self.name = record["name"]
        self.version = int(record["version"])
        self.id = f"{self.name}:{self.version}"
        self.tags = {t["key"]: t.get("value", "") for t in record.get("tags", []) if "key" in t}
        self.description = record.get("description") or None
        self.run_id = record.get("run_id") or None
        self.source = record.get("source", "")
        self.created_time = record.get("creation_timestamp")

    # --- registering ----------------------------------------------------------------------------
    @staticmethod
    def register(workspace: Workspace, model_path: str | os.PathLike, model_name: str,
                 tags: dict | None = None, properties: dict | None = None, description: str | None = None,
                 datasets: Any = None, model_framework: str | None = None,
                 model_framework_version: str | None = None, **unused: Any) -> Model:
        """Upload a local file or folder and register it as a new version of ``model_name``
        (``properties`` are kept as tags too: MLflow has no separate properties)."""
        rest = workspace.rest
        path = Path(model_path)
        if not path.exists():
            raise ModelError(f"Model {model_name!r}: model_path {str(model_path)!r} does not exist")
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        if not files:
            raise ModelError(f"Model {model_name!r}: model_path {str(model_path)!r} holds no file")
        experiment_id = rest.get_or_create_experiment(layout.MODEL_EXPERIMENT)
        record = rest.create_run(experiment_id, name=f"{model_name}", tags={})
        try:
            for f in files:
                rel = f.name if path.is_file() else f"{path.name}/{f.relative_to(path).as_posix()}"
                with open(f, "rb") as stream:
                    rest.upload_artifact(record, f"{layout.MODEL_DIR}/{rel}", stream)
        finally:
            rest.update_run(record.run_id, "FINISHED", record.start_time)
        all_tags = {**(properties or {}), **(tags or {})}
        if model_framework:
            all_tags["model_framework"] = model_framework
        version = create_version(rest, model_name, record.run_id, f"{layout.MODEL_DIR}/{path.name}",
                                 all_tags, description)
        return Model(workspace, _record=version)

    @staticmethod
    def list(workspace: Workspace, name: str | None = None, latest: bool = False,
             **unused: Any) -> list[Model]:
        """The registered versions (of ``name``), newest first; ``latest`` keeps one per name."""
        if name is not None:
            records = _versions(workspace.rest, name)
        else:
            records = []
            body = workspace.rest.transport.get_json(f"{API}/registered-models/search", {"max_results": 1000})
            for model in body.get("registered_models", []):
                records.extend(_versions(workspace.rest, model["name"]))
        models = sorted((Model(workspace, _record=r) for r in records), key=lambda m: (m.name, -m.version))
        if latest:
            seen: set[str] = set()
            models = [m for m in models if not (m.name in seen or seen.add(m.name))]
        return models

    @staticmethod
    def list_latest(workspace: Workspace) -> dict[str, Model]:
        return {m.name: m for m in Model.list(workspace, latest=True)}

    # --- files ----------------------------------------------------------------------------------
    def _source(self) -> tuple[str, str]:
        if not self.source.startswith("runs:/"):
            raise ModelError(f"Model {self.id}: its source {self.source!r} is not a run's artifact (only "
                             "models registered from runs download here; use mlflow.artifacts for others)")
        run_id, _, path = self.source[len("runs:/"):].partition("/")
        return run_id, path

    def download(self, target_dir: str | os.PathLike = ".", exist_ok: bool = False,
                 exists_ok: Any = None) -> str:
        """Download the model's file or folder into ``target_dir``; returns its local path."""
        run_id, path = self._source()
        rest = self.workspace.rest
        files, base = select_files(rest, run_id, path)
        if not files:
            raise ModelError(f"Model {self.id}: run {run_id!r} no longer has {path!r}")
        name = PurePosixPath(path).name
        single = len(files) == 1 and files[0].path == path
        dest = Path(target_dir) if single else Path(target_dir) / name
        download_files(rest, rest.get_run(run_id), files, base, dest,
                       overwrite=bool(exist_ok or exists_ok), label=f"Model {self.id}")
        return str(Path(target_dir) / name)

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None,
                       _workspace: Workspace | None = None) -> str:
        """The local path of a registered model, downloaded into ``azureml-models/<name>/<version>/``
        (as v1 does). In a step the workspace is the step's tracking server (the embedded default
        gives each step a sign-in); elsewhere pass ``_workspace``."""
        workspace = _workspace
        if workspace is None:
            from steprun_widgets.core.workspace import Workspace

            if not os.environ.get("MLFLOW_TRACKING_URI"):
                raise ModelError(f"Model.get_model_path({model_name!r}): no tracking server is known: pass "
                                 "_workspace=ws (in a step, the server must let steps sign in: the "
                                 "embedded default does)")
            workspace = Workspace(os.environ["MLFLOW_TRACKING_URI"])
        model = Model(workspace, model_name, version=version)
        folder = Path(MODELS_FOLDER) / model.name / str(model.version)
        target = folder / PurePosixPath(model._source()[1]).name
        if not target.exists():
            model.download(folder, exist_ok=True)
        return str(target.resolve())

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, version={self.version}, run_id={self.run_id!r})"


def register_run_model(workspace: Workspace, run_id: str, model_name: str, model_path: str | None,
                       tags: dict | None = None, properties: dict | None = None,
                       description: str | None = None) -> Model:
    """``run.register_model``: register the run's artifact ``model_path`` (default: ``outputs``)."""
    all_tags = {**(properties or {}), **(tags or {})}
    version = create_version(workspace.rest, model_name, run_id, model_path or layout.OUTPUTS_DIR, all_tags,
                             description)
    return Model(workspace, _record=version)
