"""Published pipelines and pipeline endpoints (Azure ML v1's ``PublishedPipeline``, ``PipelineEndpoint``).

``pipeline.publish(name, description, version)`` stores the pipeline's definition and each step's
source snapshot on the tracking server, in the experiment ``layout.PUBLISHED_EXPERIMENT``: a
published pipeline is one (Finished) run of it whose tags say its name, version and status and
whose artifact ``layout.PUBLISHED_DEFINITION`` is the definition (``published_definition``); a
pipeline endpoint is another run, holding its versions (published pipeline ids) and its default.
Any client of the server, from any folder or machine, finds them there: ``submit`` fetches the
source snapshots into a private cache folder (``source_snapshot``) and runs the same code with the
parameters it is given. There is no REST endpoint to post to: ``endpoint`` says what to do instead.
See docs/publishing.md.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steprun_widgets.core import layout
from steprun_widgets.core.experiment import Experiment
from steprun_widgets.core.rest import MlflowRest, RunRecord
from steprun_widgets.core.workspace import Workspace
from steprun_widgets.errors import RunNotFoundError, StepRunError, V1NotSupportedError
from steprun_widgets.local import published_definition, source_snapshot
from steprun_widgets.local.parameters import PipelineParameterError

if TYPE_CHECKING:
    from steprun_widgets.core.runs import PipelineRun
    from steprun_widgets.local.pipeline import Pipeline

_MAX_TAG = 5000  # MLflow 2.9's limit of a tag value


class PublishedPipelineError(StepRunError):
    """A published pipeline or endpoint that cannot be found, changed or submitted as asked."""


class PublishedPipelineDisabledError(PublishedPipelineError):
    """A disabled published pipeline or endpoint was submitted."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _experiment_id(rest: MlflowRest) -> str:
    return rest.get_or_create_experiment(layout.PUBLISHED_EXPERIMENT)


def _check_name(what: str, name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 250 or not name.isprintable():
        raise PublishedPipelineError(f"{what} name {name!r} is not valid: printable text, at most 250 "
                                     "characters")
    return name


def _quoted(value: str) -> str:
    """A value inside a single-quoted MLflow search filter."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _no_rest_endpoint(what: str, name: str) -> V1NotSupportedError:
    return V1NotSupportedError(
        f"{what} {name!r} has no REST endpoint to post to: the tracking server runs no pipelines. "
        f"Submit it from Python ({'published' if what.startswith('Published') else 'endpoint'}"
        f".submit(...)) or from a shell, cron or CI job: `steprun-widgets pipeline submit {name} "
        "--param NAME=VALUE` (see docs/publishing.md)", v1_name=f"{what.replace(' ', '')}.endpoint")


def publish_pipeline(pipeline: Pipeline, name: str, description: str | None = None,
                     version: str | None = None,
                     continue_on_step_failure: bool | None = None) -> PublishedPipeline:
    """Store ``pipeline`` on its workspace's tracking server; what ``Pipeline.publish`` does."""
    _check_name("Published pipeline", name)
    if description is not None and not isinstance(description, str):
        raise PublishedPipelineError(f"Published pipeline {name!r}: description must be text, got "
                                     f"{description!r}")
    if continue_on_step_failure is False:
        raise PublishedPipelineError(
            f"Published pipeline {name!r}: continue_on_step_failure=False is not supported: the runner "
            "always goes on with the steps that do not depend on a failed one (leave it out, or True)")
    pipeline.validate()
    rest = pipeline.workspace.rest
    snaps: dict[Path, source_snapshot.Snapshot] = {}
    digests = {}
    for step in pipeline.topological_order():
        folder = step.source_directory.resolve()
        if folder not in snaps:
            snaps[folder] = source_snapshot.take(folder)
        digests[step.name] = snaps[folder].digest
    definition = published_definition.encode(pipeline, digests)
    definition["description"] = description if description is not None else pipeline.description
    for snap in {s.digest: s for s in snaps.values()}.values():
        source_snapshot.store(rest, snap)
    tags = {layout.TAG_PUBLISHED_KIND: layout.PUBLISHED_KIND_PIPELINE,
            layout.TAG_PUBLISHED_NAME: name,
            layout.TAG_PUBLISHED_STATUS: layout.PUBLISHED_ACTIVE,
            layout.TAG_PUBLISHED_PARAMETERS: json.dumps(definition["parameters"])[:_MAX_TAG]}
    if version is not None:
        tags[layout.TAG_PUBLISHED_VERSION] = str(version)
    if definition["description"]:
        tags[layout.TAG_DESCRIPTION] = definition["description"]
    if continue_on_step_failure is not None:
        tags[layout.TAG_PUBLISHED_CONTINUE] = "true"
    record = rest.create_run(_experiment_id(rest), name=name, tags=tags)
    try:
        body = json.dumps(definition, indent=1).encode()
        rest.upload_artifact(record, layout.PUBLISHED_DEFINITION, body)
        rest.update_run(record.run_id, layout.MLFLOW_STATUS[layout.FINISHED], _now_ms())
    except BaseException:
        # Only Finished runs are published pipelines: a half-stored one is never listed or found.
        with contextlib.suppress(StepRunError):
            rest.update_run(record.run_id, layout.MLFLOW_STATUS[layout.FAILED], _now_ms())
        raise
    return PublishedPipeline(pipeline.workspace, rest.get_run(record.run_id))


class _Published:
    """What a published pipeline and a pipeline endpoint share: a run of the published-pipelines
    experiment, its name, description and status ("Active" or "Disabled": a disabled one refuses
    to submit until ``enable()``)."""

    def __init__(self, workspace: Workspace, record: RunRecord) -> None:
        self.workspace = workspace
        self._record = record

    @property
    def id(self) -> str:
        return self._record.run_id

    @property
    def name(self) -> str:
        return self._record.tags.get(layout.TAG_PUBLISHED_NAME, self._record.name)

    @property
    def description(self) -> str | None:
        return self._record.tags.get(layout.TAG_DESCRIPTION) or None

    @property
    def status(self) -> str:
        return self._record.tags.get(layout.TAG_PUBLISHED_STATUS, layout.PUBLISHED_ACTIVE)

    def enable(self) -> None:
        """Let it be submitted again."""
        self._set_status(layout.PUBLISHED_ACTIVE)

    def disable(self) -> None:
        """Refuse submissions (``submit`` raises PublishedPipelineDisabledError) until ``enable()``;
        for an endpoint, the published pipelines behind it are unchanged."""
        self._set_status(layout.PUBLISHED_DISABLED)

    def _set_status(self, status: str) -> None:
        self.workspace.rest.set_tag(self.id, layout.TAG_PUBLISHED_STATUS, status)
        self._record.tags[layout.TAG_PUBLISHED_STATUS] = status


class PublishedPipeline(_Published):
    """A pipeline published on the tracking server: submit it from anywhere with other parameters.

    ``id`` is its run id in the published-pipelines experiment. ``status`` is "Active" or "Disabled";
    a disabled one refuses to submit. ``parameters`` are its PipelineParameters and their defaults.
    """

    # --- what it is ---------------------------------------------------------------------------
    @property
    def version(self) -> str | None:
        return self._record.tags.get(layout.TAG_PUBLISHED_VERSION)

    @property
    def continue_on_step_failure(self) -> bool:
        return self._record.tags.get(layout.TAG_PUBLISHED_CONTINUE) == "true"

    @property
    def parameters(self) -> dict[str, Any]:
        """PipelineParameter name -> default value."""
        return dict(self.definition()["parameters"])

    @property
    def endpoint(self) -> str:
        """Refused: a published pipeline has no REST endpoint here (the error says what to do)."""
        raise _no_rest_endpoint("Published pipeline", self.name)

    @property
    def total_run_steps(self) -> int:
        return len(self.definition()["steps"])

    def definition(self) -> dict:
        """The stored definition (steps, data, parameters, snapshot digests), read once."""
        cached = getattr(self, "_definition", None)
        if cached is None:
            with self.workspace.rest.open_artifact(self._record, layout.PUBLISHED_DEFINITION) as response:
                cached = json.loads(response.content.decode("utf-8"))
            self._definition = cached
        return cached

    # --- finding ------------------------------------------------------------------------------
    @classmethod
    def get(cls, workspace: Workspace, id: str, _service_endpoint: str | None = None) -> PublishedPipeline:
        """The published pipeline with this id; RunNotFoundError naming it when there is none."""
        workspace = workspace.with_endpoint(_service_endpoint)
        try:
            record = workspace.rest.get_run(id)
        except RunNotFoundError:
            record = None
        if (record is None or record.tags.get(layout.TAG_PUBLISHED_KIND) != layout.PUBLISHED_KIND_PIPELINE
                or record.status != layout.MLFLOW_STATUS[layout.FINISHED]):
            raise RunNotFoundError(f"No published pipeline has id {id!r} on "
                                   f"{workspace.transport.display_url}")
        return cls(workspace, record)

    @classmethod
    def list(cls, workspace: Workspace, active_only: bool = True,
             _service_endpoint: str | None = None) -> list[PublishedPipeline]:
        """Every published pipeline of the server (only the active ones unless ``active_only=False``),
        newest first."""
        workspace = workspace.with_endpoint(_service_endpoint)
        return [cls(workspace, r) for r in _search(workspace.rest, layout.PUBLISHED_KIND_PIPELINE,
                                                    active_only=active_only)]

    @classmethod
    def find(cls, workspace: Workspace, name: str, version: str | None = None) -> PublishedPipeline:
        """The newest active published pipeline with this name (and version, if given)."""
        for found in _search(workspace.rest, layout.PUBLISHED_KIND_PIPELINE, name=name, active_only=True):
            if version is None or found.tags.get(layout.TAG_PUBLISHED_VERSION) == str(version):
                return cls(workspace, found)
        which = f"{name!r}" + (f" version {version!r}" if version is not None else "")
        raise RunNotFoundError(f"No active published pipeline or pipeline endpoint is named {which} on "
                               f"{workspace.transport.display_url}")

    # --- running ------------------------------------------------------------------------------
    def submit(self, workspace: Workspace, experiment_name: str,
               pipeline_parameters: Mapping[str, Any] | None = None,
               _workflow_provenance: Any = None, _service_endpoint: str | None = None,
               parent_run_id: str | None = None, continue_on_step_failure: bool | None = None,
               *, executor: Any = None, _endpoint: str | None = None) -> PipelineRun:
        """Run the published pipeline in ``experiment_name`` with ``pipeline_parameters`` over its
        defaults; returns the PipelineRun at once. The steps run from the source snapshots, fetched
        into a private cache folder of this machine."""
        from steprun_widgets.local.submit import submit_pipeline

        workspace = (workspace or self.workspace).with_endpoint(_service_endpoint)
        current = PublishedPipeline.get(workspace, self.id)  # the status now, not when it was read
        if current.status != layout.PUBLISHED_ACTIVE:
            raise PublishedPipelineDisabledError(
                f"Published pipeline {self.name!r} (id {self.id}) is disabled: it cannot be submitted "
                "until published_pipeline.enable() is called")
        if continue_on_step_failure is False:
            raise PublishedPipelineError("continue_on_step_failure=False is not supported: the runner "
                                         "always goes on with the steps that do not depend on a failed one")
        if parent_run_id is not None:
            raise PublishedPipelineError("parent_run_id is not supported: a pipeline run is a top-level "
                                         "run of its experiment")
        pipeline = self.pipeline(workspace)
        experiment = Experiment(workspace, experiment_name)
        run = submit_pipeline(experiment, pipeline, executor=executor, pipeline_name=self.name,
                              pipeline_parameters=pipeline_parameters)
        tags = {layout.TAG_PUBLISHED_FROM: self.id}
        if _endpoint:
            tags[layout.TAG_SUBMITTED_ENDPOINT] = _endpoint
        workspace.rest.set_tags(run.id, tags)
        return run

    def submit_to(self, experiment: Experiment, *, pipeline_parameters: Mapping[str, Any] | None = None,
                  executor: Any = None, **unsupported: Any) -> PipelineRun:
        """``experiment.submit(published_pipeline, pipeline_parameters=...)``, as in Azure ML v1."""
        if unsupported:
            raise PublishedPipelineError(f"submit(): {sorted(unsupported)[0]}= is not supported for a "
                                         "published pipeline (pipeline_parameters= and executor= are)")
        return self.submit(experiment.workspace, experiment.name, pipeline_parameters, executor=executor)

    def pipeline(self, workspace: Workspace | None = None) -> Pipeline:
        """The Pipeline this was published from, its steps' source folders fetched from the server."""
        workspace = workspace or self.workspace
        cache = source_snapshot.cache_root(workspace.local_root)

        def source_of(digest: str) -> Path:
            return source_snapshot.materialize(workspace.rest, digest, cache)

        return published_definition.decode(self.definition(), workspace, source_of)

    def coerce_parameters(self, given: Mapping[str, str]) -> dict[str, Any]:
        """Text values (from a command line) as the type of each parameter's default."""
        return coerce_parameters(self.parameters, given, self.name)

    def __repr__(self) -> str:
        return (f"PublishedPipeline(name={self.name!r}, id={self.id!r}, version={self.version!r}, "
                f"status={self.status!r})")


def coerce_parameters(defaults: Mapping[str, Any], given: Mapping[str, str], owner: str) -> dict[str, Any]:
    """``--param k=v`` values as the type of the parameter's default (bool, int, float or text)."""
    values: dict[str, Any] = {}
    for key, text in given.items():
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise PipelineParameterError(f"{owner!r} has no PipelineParameter {key!r} (its parameters: "
                                         f"{known})")
        default = defaults[key]
        try:
            if isinstance(default, bool):
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(text)
                values[key] = text.lower() in ("true", "1", "yes")
            elif isinstance(default, int):
                values[key] = int(text)
            elif isinstance(default, float):
                values[key] = float(text)
            else:
                values[key] = text
        except ValueError:
            raise PipelineParameterError(
                f"PipelineParameter {key!r} of {owner!r}: {text!r} is not a {type(default).__name__} "
                f"like its default {default!r}") from None
    return values


def _search(rest: MlflowRest, kind: str, *, name: str | None = None,
            active_only: bool = True) -> list[RunRecord]:
    filters = [f"tags.`{layout.TAG_PUBLISHED_KIND}` = '{kind}'", "attributes.status = 'FINISHED'"]
    if name is not None:
        filters.append(f"tags.`{layout.TAG_PUBLISHED_NAME}` = '{_quoted(name)}'")
    if active_only:
        filters.append(f"tags.`{layout.TAG_PUBLISHED_STATUS}` = '{layout.PUBLISHED_ACTIVE}'")
    return rest.search_runs([_experiment_id(rest)], " and ".join(filters),
                            order_by=["attributes.start_time DESC"])


@dataclass(frozen=True)
class PipelineIdVersion:
    """One version of a pipeline endpoint: the version and the published pipeline it runs."""

    pipeline_id: str
    version: str


class PipelineEndpoint(_Published):
    """A name that stays while the published pipeline behind it changes: versions and a default.

    Versions are "0", "1", ... in the order pipelines were added; ``submit`` runs the default one
    unless ``pipeline_version=`` says. A disabled endpoint refuses to submit. Changes are read,
    changed and written back: two processes changing one endpoint at the same moment may lose one
    change.
    """

    @property
    def default_version(self) -> str:
        return self._record.tags.get(layout.TAG_ENDPOINT_DEFAULT, "0")

    @property
    def endpoint(self) -> str:
        """Refused: an endpoint has no REST endpoint here (the error says what to do)."""
        raise _no_rest_endpoint("Pipeline endpoint", self.name)

    @property
    def pipeline_version_list(self) -> list[PipelineIdVersion]:
        return self.list_versions()

    def list_versions(self) -> list[PipelineIdVersion]:
        raw = json.loads(self._record.tags.get(layout.TAG_ENDPOINT_VERSIONS) or "[]")
        return [PipelineIdVersion(pipeline_id=p, version=v) for v, p in raw]

    # --- finding ------------------------------------------------------------------------------
    @classmethod
    def publish(cls, workspace: Workspace, name: str, description: str | None,
                pipeline: PublishedPipeline | Pipeline,
                _service_endpoint: str | None = None) -> PipelineEndpoint:
        """A new endpoint named ``name`` whose version "0" (the default) is ``pipeline`` (a published
        pipeline, or a Pipeline, published here under the endpoint's name)."""
        workspace = workspace.with_endpoint(_service_endpoint)
        _check_name("Pipeline endpoint", name)
        if _search(workspace.rest, layout.PUBLISHED_KIND_ENDPOINT, name=name, active_only=False):
            raise PublishedPipelineError(
                f"A pipeline endpoint named {name!r} exists already: add a version to it with "
                f"PipelineEndpoint.get(workspace, name={name!r}).add_default(published_pipeline)")
        published = _published(pipeline, name, description)
        tags = {layout.TAG_PUBLISHED_KIND: layout.PUBLISHED_KIND_ENDPOINT,
                layout.TAG_PUBLISHED_NAME: name, layout.TAG_PUBLISHED_STATUS: layout.PUBLISHED_ACTIVE,
                layout.TAG_ENDPOINT_VERSIONS: json.dumps([["0", published.id]]),
                layout.TAG_ENDPOINT_DEFAULT: "0"}
        if description:
            tags[layout.TAG_DESCRIPTION] = description
        rest = workspace.rest
        record = rest.create_run(_experiment_id(rest), name=name, tags=tags)
        rest.update_run(record.run_id, layout.MLFLOW_STATUS[layout.FINISHED], _now_ms())
        return cls(workspace, rest.get_run(record.run_id))

    @classmethod
    def get(cls, workspace: Workspace, id: str | None = None, name: str | None = None,
            _service_endpoint: str | None = None) -> PipelineEndpoint:
        """The endpoint with this id or name; RunNotFoundError naming it when there is none."""
        workspace = workspace.with_endpoint(_service_endpoint)
        if (id is None) == (name is None):
            raise PublishedPipelineError("PipelineEndpoint.get takes id= or name= (one of them)")
        record = None
        if id is not None:
            try:
                record = workspace.rest.get_run(id)
            except RunNotFoundError:
                record = None
            kind = record.tags.get(layout.TAG_PUBLISHED_KIND) if record is not None else None
            if kind != layout.PUBLISHED_KIND_ENDPOINT:
                record = None
        else:
            found = _search(workspace.rest, layout.PUBLISHED_KIND_ENDPOINT, name=name, active_only=False)
            record = found[0] if found else None
        if record is None:
            which = f"id {id!r}" if id is not None else f"name {name!r}"
            raise RunNotFoundError(f"No pipeline endpoint has {which} on {workspace.transport.display_url}")
        return cls(workspace, record)

    @classmethod
    def list(cls, workspace: Workspace, active_only: bool = True,
             _service_endpoint: str | None = None) -> list[PipelineEndpoint]:
        """Every pipeline endpoint of the server (the active ones unless ``active_only=False``)."""
        workspace = workspace.with_endpoint(_service_endpoint)
        return [cls(workspace, r) for r in _search(workspace.rest, layout.PUBLISHED_KIND_ENDPOINT,
                                                    active_only=active_only)]

    # --- versions -----------------------------------------------------------------------------
    def _refresh(self) -> None:
        self._record = self.workspace.rest.get_run(self.id)

    def _write(self, versions: list[list[str]], default: str) -> None:
        value = json.dumps(versions)
        if len(value) > _MAX_TAG:
            raise PublishedPipelineError(
                f"Pipeline endpoint {self.name!r} holds {len(versions)} versions, the most its tag can "
                "keep: publish a new endpoint")
        tags = {layout.TAG_ENDPOINT_VERSIONS: value, layout.TAG_ENDPOINT_DEFAULT: default}
        self.workspace.rest.set_tags(self.id, tags)
        self._record.tags.update(tags)

    def add(self, pipeline: PublishedPipeline | Pipeline) -> str:
        """Add ``pipeline`` as a new version (not the default); returns its version."""
        self._refresh()
        published = _published(pipeline, self.name, self.description)
        versions = [[v.version, v.pipeline_id] for v in self.list_versions()]
        version = str(max((int(v) for v, _ in versions if v.isdigit()), default=-1) + 1)
        self._write([*versions, [version, published.id]], self.default_version)
        return version

    def add_default(self, pipeline: PublishedPipeline | Pipeline) -> str:
        """Add ``pipeline`` as a new version and make it the default; returns its version."""
        version = self.add(pipeline)
        self.set_default_version(version)
        return version

    def set_default(self, pipeline: PublishedPipeline) -> None:
        """Make the version that runs ``pipeline`` the default (adding it when it is not one)."""
        self._refresh()
        for v in self.list_versions():
            if v.pipeline_id == pipeline.id:
                self.set_default_version(v.version)
                return
        self.add_default(pipeline)

    def set_default_version(self, version: str | int) -> None:
        """Make ``version`` the one ``submit`` runs when it is given no ``pipeline_version``."""
        self._refresh()
        version = str(version)
        self._version_id(version)
        self._write([[v.version, v.pipeline_id] for v in self.list_versions()], version)

    def _version_id(self, version: str) -> str:
        versions = self.list_versions()
        for v in versions:
            if v.version == version:
                return v.pipeline_id
        known = ", ".join(v.version for v in versions)
        raise PublishedPipelineError(f"Pipeline endpoint {self.name!r} has no version {version!r} "
                                     f"(its versions: {known})")

    def get_pipeline(self, version: str | int | None = None) -> PublishedPipeline:
        """The published pipeline of ``version`` (default: the default version)."""
        self._refresh()
        version = self.default_version if version is None else str(version)
        return PublishedPipeline.get(self.workspace, self._version_id(version))

    def list_pipelines(self, active_only: bool = True) -> list[PublishedPipeline]:
        found = [PublishedPipeline.get(self.workspace, v.pipeline_id) for v in self.list_versions()]
        return [p for p in found if p.status == layout.PUBLISHED_ACTIVE or not active_only]

    # --- running ------------------------------------------------------------------------------
    def submit(self, experiment_name: str, pipeline_parameters: Mapping[str, Any] | None = None,
               parent_run_id: str | None = None, pipeline_version: str | int | None = None,
               *, executor: Any = None) -> PipelineRun:
        """Run the default version (or ``pipeline_version``) in ``experiment_name``."""
        self._refresh()
        if self.status != layout.PUBLISHED_ACTIVE:
            raise PublishedPipelineDisabledError(
                f"Pipeline endpoint {self.name!r} (id {self.id}) is disabled: it cannot be submitted "
                "until pipeline_endpoint.enable() is called")
        published = self.get_pipeline(pipeline_version)
        return published.submit(self.workspace, experiment_name, pipeline_parameters,
                                parent_run_id=parent_run_id, executor=executor, _endpoint=self.name)

    def submit_to(self, experiment: Experiment, *, pipeline_parameters: Mapping[str, Any] | None = None,
                  pipeline_version: str | int | None = None, executor: Any = None) -> PipelineRun:
        """``experiment.submit(endpoint, pipeline_parameters=..., pipeline_version=...)``."""
        return self.submit(experiment.name, pipeline_parameters, pipeline_version=pipeline_version,
                           executor=executor)

    def __repr__(self) -> str:
        return (f"PipelineEndpoint(name={self.name!r}, id={self.id!r}, "
                f"default_version={self.default_version!r}, status={self.status!r})")


def _published(pipeline: Any, name: str, description: str | None) -> PublishedPipeline:
    from steprun_widgets.local.pipeline import Pipeline

    if isinstance(pipeline, PublishedPipeline):
        return pipeline
    if isinstance(pipeline, Pipeline):
        return pipeline.publish(name=name, description=description)
    raise PublishedPipelineError(f"Pipeline endpoint {name!r}: expected a PublishedPipeline or a "
                                 f"Pipeline, got {pipeline!r}")
