"""PipelineRun and StepRun: Azure ML v1's run API over the run layout of docs/run-layout.md."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any

from steprun_widgets.core import layout
from steprun_widgets.core.experiment import Experiment
from steprun_widgets.core.logs import LogReader
from steprun_widgets.core.metrics import read_metrics
from steprun_widgets.core.outputs import LoggedModelOutput, PortDataReference, StepRunOutput
from steprun_widgets.core.rest import MlflowRest, RunRecord
from steprun_widgets.core.transport import check_run_id
from steprun_widgets.core.v1_names import V1Members
from steprun_widgets.core.workspace import Workspace
from steprun_widgets.errors import (
    ArtifactStoreError,
    OutputNotFoundError,
    RunNotFoundError,
    ServiceError,
    StepRunError,
)


def iso_utc(ms: int | None) -> str | None:
    """An MLflow timestamp (ms since the epoch) as an ISO 8601 UTC string."""
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


class _Run(metaclass=V1Members):
    """What pipeline and step runs share: identity, the cached server record, status, details."""

    def __init__(self, experiment: Experiment, run_id: str, _service_endpoint: str | None = None,
                 _record: RunRecord | None = None) -> None:
        self.experiment = experiment
        self.workspace = experiment.workspace.with_endpoint(_service_endpoint)
        self._id = check_run_id(run_id)
        self._cached: RunRecord | None = _record

    @property
    def id(self) -> str:
        return self._id

    @property
    def _rest(self) -> MlflowRest:
        return self.workspace.rest

    def _record(self, refresh: bool = False) -> RunRecord:
        """The run as the server last described it (fetched when asked or not yet known)."""
        if refresh or self._cached is None:
            self._cached = self._rest.get_run(self._id)
        return self._cached

    def _set_record(self, record: RunRecord) -> None:
        """Take a record fetched elsewhere (a batched search) instead of asking again."""
        self._cached = record

    @property
    def name(self) -> str:
        return self._record().name

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._record().tags)

    def get_status(self) -> str:
        """The latest status from the server, in Azure ML v1's words (see docs/run-layout.md)."""
        return self._record(refresh=True).azureml_status()

    def register_model(self, model_name: str, model_path: str | None = None, tags: dict | None = None,
                       properties: dict | None = None, description: str | None = None, **unused: Any):
        """Register the run's artifact ``model_path`` (an output's files: ``outputs/<output>/...``) as
        a new version of ``model_name`` in the tracking server's model registry; returns the Model."""
        from steprun_widgets.core.model import register_run_model

        return register_run_model(self.workspace, self.id, model_name, model_path, tags, properties,
                                  description)

    def get_tags(self) -> dict[str, str]:
        return dict(self._record(refresh=True).tags)

    def _own_metrics(self, name: str | None = None) -> dict[str, Any]:
        record = self._record(refresh=True)
        return read_metrics(self._rest, self._id, record.metrics, record.tags, name)

    def get_details(self) -> dict[str, Any]:
        """The run's details: ids, status, times, tags, parameters, log files and error line.

        When the server cannot read the run's artifact store, ``logFiles`` is empty and
        ``artifactsError`` says why (the details themselves come from the tracking store).
        """
        record = self._record(refresh=True)
        try:
            log_files, artifacts_error = self._log_files(record), None
        except ArtifactStoreError as exc:
            log_files, artifacts_error = {}, str(exc)
        return {
            "runId": record.run_id,
            "experimentId": record.experiment_id,
            "name": record.name,
            "status": record.azureml_status(),
            "startTimeUtc": iso_utc(record.started_ms),
            "queuedTimeUtc": iso_utc(record.start_time),
            "endTimeUtc": iso_utc(record.end_time),
            "tags": dict(record.tags),
            "properties": dict(record.params),
            "parameters": dict(record.params),
            "logFiles": log_files,
            "error": record.tags.get(layout.TAG_ERROR) or None,
            "artifactsError": artifacts_error,
            "target": self.workspace.transport.display_url,
            # v1's key: the data the run read, here its MLflow dataset inputs
            "inputDatasets": [{"dataset": {k: d["dataset"].get(k) for k in ("name", "digest", "source_type",
                                                                           "source")},
                               "consumptionDetails": {"inputName": d["dataset"].get("name")}}
                              for d in record.dataset_inputs],
        }

    def _log_files(self, record: RunRecord) -> dict[str, str]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self._id!r}, experiment={self.experiment.name!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.id == self.id  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._id))


class StepRun(_Run):
    """A step of a pipeline run (a child run on the server); see Azure ML v1's StepRun reference.

    For a reused step, ``id`` is the original run that produced the results and ``_is_reused`` is
    True; its logs and outputs are the original's.
    """

    def __init__(self, experiment: Experiment, step_run_id: str, pipeline_run_id: str,
                 node_id: str | None, _service_endpoint: str | None = None, _is_reused: bool = False,
                 _current_node_id: str | None = None, _reused_run_id: str | None = None,
                 _reused_node_id: str | None = None, _reused_pipeline_run_id: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(experiment, step_run_id, _service_endpoint, kwargs.pop("_record", None))
        self.pipeline_run_id = pipeline_run_id
        self.node_id = node_id
        self._is_reused = _is_reused
        self._current_node_id = _current_node_id
        self._reused_run_id = _reused_run_id
        self._reused_node_id = _reused_node_id
        self._reused_pipeline_run_id = _reused_pipeline_run_id
        self._step_name: str | None = kwargs.pop("_step_name", None)
        #: Log name -> artifact path, for runs written by other tools
        #: (default: the names of docs/run-layout.md).
        self._log_paths: dict[str, str] | None = kwargs.pop("log_files", None)
        #: True once the log names cannot change any more (given, the runner's, or listed at the end).
        self._log_paths_final = self._log_paths is not None
        if kwargs:
            raise TypeError(f"StepRun() got unexpected keyword arguments: {sorted(kwargs)}")

    @property
    def name(self) -> str:
        return self._step_name or super().name

    @property
    def is_reused(self) -> bool:
        return self._is_reused

    @property
    def parent(self) -> PipelineRun:
        """The pipeline run this step belongs to (v1's ``Run.parent``)."""
        return PipelineRun(self.experiment, self.pipeline_run_id)

        # --- not supported on a step run (Azure ML v1) ---------------------------------------------------
    def child_run(self, name: str | None = None, run_id: str | None = None,
                  outputs: str | None = None) -> Any:
        raise NotImplementedError("child_run is not supported for a StepRun: a step run's children "
                                  "are created by the pipeline, not by the client")

    def complete(self) -> None:
        raise NotImplementedError("complete is not supported for a StepRun: its status is set by the "
                                  "pipeline runner")

    def fail(self) -> None:
        raise NotImplementedError("fail is not supported for a StepRun: its status is set by the "
                                  "pipeline runner")

    # --- logs -----------------------------------------------------------------------------------
    def log_paths(self, refresh: bool = False) -> dict[str, str]:
        """Log name -> artifact path of this run's logs.

        A step of the runner has the names of docs/run-layout.md. A run written by another tool has what it
        keeps under ``logs/`` (one listing; no default names are guessed; a run without ``logs/``
        lists as empty on every server): listed once when the run has ended, and again on
        ``refresh=True`` while it goes on (new logs may appear).
        """
        if self._log_paths is None or (refresh and not self._log_paths_final):
            record = self._record()
            if layout.is_step_run(record.tags):
                paths, final = dict(layout.LOG_FILES), True
            else:
                paths = {f.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]: f.path
                         for f in self._rest.list_artifacts(self.id, layout.LOGS_DIR)
                         if not f.is_dir}
                final = layout.is_terminal(record.azureml_status())
            self._log_paths, self._log_paths_final = paths, final
        return self._log_paths

    def _log_files(self, record: RunRecord) -> dict[str, str]:
        return self.log_paths()

    def log_reader(self, log_name: str) -> LogReader:
        """An incremental reader of one log (``stdout``, ``stderr``, ``job``...)."""
        paths = self.log_paths()
        if log_name not in paths:
            raise StepRunError(f"Step run {self.id!r} has no log named {log_name!r} "
                               f"(it has: {', '.join(paths) or 'none'})")
        return LogReader(self._rest, self._record, paths[log_name])

    def _read_log(self, log_name: str) -> str:
        paths = self.log_paths()
        if log_name not in paths:
            return ""
        return self.log_reader(log_name).read_all()

    def get_job_log(self) -> str:
        """The current job log (the runner's own lines about this step)."""
        return self._read_log("job")

    def get_stdout_log(self) -> str:
        """The current stdout log; works while the step runs."""
        return self._read_log("stdout")

    def get_stderr_log(self) -> str:
        """The current stderr log; works while the step runs."""
        return self._read_log("stderr")

    def get_details_with_logs(self) -> dict[str, Any]:
        """``get_details()`` plus the contents of each log file under ``logFiles``."""
        details = self.get_details()
        details["logFiles"] = {path: self._read_log(name) for name, path in self.log_paths().items()}
        return details

    # --- metrics --------------------------------------------------------------------------------
    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        """The step's metrics as Azure ML shapes them.

        ``{name: value}`` for a metric logged once, ``{name: [v0, v1, ...]}`` in step order (ties
        by time) for one logged several times or with ``log_list``, ``{table: {column: [...]}}``
        for a table logged with ``log_row``. NaN and ±inf come back as float NaN and ±inf.
        ``name``: only that entry; a StepRunError naming it when the run has none such.
        """
        return self._own_metrics(name)

    # --- outputs --------------------------------------------------------------------------------
    def get_outputs(self) -> dict[str, StepRunOutput]:
        """Output name -> StepRunOutput, for every output the step uploaded."""
        outputs: dict[str, StepRunOutput] = {}
        for entry in self._rest.list_artifacts(self.id, layout.OUTPUTS_DIR):
            name = entry.path.rsplit("/", 1)[-1]
            # A folder is an output; so is a lone file right under outputs/ (runs of other tools).
            outputs[name] = StepRunOutput(self, name, None if entry.is_dir else [entry])
        # MLflow 3 logged models of the step: a record read while the step ran may predate them
        cached = self._cached
        record = cached if cached is not None and layout.is_terminal(cached.azureml_status()) else \
            self._record(refresh=True)
        for model_id in record.model_ids:
            try:
                model_name = self._rest.get_logged_model(model_id).get("name") or model_id
            except ServiceError as exc:  # deleted since: not an output any more
                if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                    raise
                continue
            name = model_name if model_name not in outputs else f"{model_name}-{model_id}"
            outputs[name] = LoggedModelOutput(self, name, model_id)
        return outputs

    def get_output(self, name: str) -> StepRunOutput:
        """The output with this name; OutputNotFoundError naming it and the run when there is none."""
        outputs = self.get_outputs()
        if name not in outputs:
            known = ", ".join(sorted(outputs)) or "none"
            raise OutputNotFoundError(f"Step run {self.id!r} has no output named {name!r} "
                                      f"(outputs: {known})")
        return outputs[name]

    def get_output_data(self, name: str) -> PortDataReference:
        """The PortDataReference of an output; ``.download(local_path=...)`` fetches it."""
        return self.get_output(name).port_data_reference

    def wait_for_completion(self, show_output: bool = True, timeout_seconds: float = sys.maxsize,
                            raise_on_error: bool = True) -> str:
        """Wait until the step ends; stream its new log lines meanwhile when ``show_output``.

        Returns the final status; raises ActivityFailedException when it failed and
        ``raise_on_error``; on timeout says so and returns the current status.
        """
        from steprun_widgets.core.waiting import wait_for_runs

        return wait_for_runs(self, [self], show_output, timeout_seconds, raise_on_error)

    def cancel(self) -> None:
        """Cancel this step: a step that has not started never runs, a running one is stopped.

        The steps that need its results are canceled too, and the pipeline ends Canceled; other
        branches of the pipeline go on. A step that already ended is left as it is.
        """
        from steprun_widgets.core.cancel import cancel_step

        cancel_step(self)


class PipelineRun(_Run):
    """A submitted pipeline (a top-level run); its steps are StepRuns."""

    def __init__(self, experiment: Experiment, run_id: str, _service_endpoint: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(experiment, run_id, _service_endpoint, kwargs.pop("_record", None))
        if kwargs:
            raise TypeError(f"PipelineRun() got unexpected keyword arguments: {sorted(kwargs)}")

    def publish_pipeline(self, name: str, description: str | None = None, version: str | None = None,
                         continue_on_step_failure: bool | None = None) -> Any:
        """Publish the pipeline this run was submitted from (``pipeline.publish(...)``, see
        docs/publishing.md). Only the process that submitted the run holds that pipeline's
        definition and source folders; elsewhere a clear error says to publish the Pipeline."""
        pipeline = getattr(self, "_submitted_pipeline", None)
        if pipeline is None:
            raise StepRunError(
                f"Pipeline run {self.id!r}: publish_pipeline needs the Pipeline it was submitted from, "
                "which only the process that submitted it holds (a run keeps no copy of its source "
                "folders): publish the Pipeline object instead, pipeline.publish(name, description, "
                "version)")
        return pipeline.publish(name=name, description=description, version=version,
                                continue_on_step_failure=continue_on_step_failure)

    def get_graph(self) -> dict:
        """Nodes (id, name) and edges of the pipeline, from its graph tag."""
        return layout.decode_graph(layout.graph_value(self._record().tags))

    def step_records(self) -> list[RunRecord]:
        """The step runs of this pipeline as the server has them now (one search request)."""
        record = self._record()
        runs = self._rest.search_runs(
            [record.experiment_id], f"tags.`{layout.TAG_PARENT_RUN_ID}` = '{self.id}'")
        order = {n["id"]: i for i, n in enumerate(self.get_graph()["nodes"])}
        return sorted(runs, key=lambda r: (order.get(r.tags.get(layout.TAG_NODE_ID, ""), len(order)),
                                           r.start_time or 0, r.run_id))

    def step_run_for(self, record: RunRecord) -> StepRun:
        """The StepRun a step record stands for (the original run when the step was reused)."""
        tags = record.tags
        reused = tags.get(layout.TAG_REUSED_RUN_ID)
        if reused:
            return StepRun(self.experiment, reused, self.id, tags.get(layout.TAG_REUSED_NODE_ID),
                           _service_endpoint=self.workspace.tracking_uri, _is_reused=True,
                           _current_node_id=tags.get(layout.TAG_NODE_ID), _reused_run_id=reused,
                           _reused_node_id=tags.get(layout.TAG_REUSED_NODE_ID),
                           _reused_pipeline_run_id=tags.get(layout.TAG_REUSED_PIPELINE),
                           _step_name=record.name)
        return StepRun(self.experiment, record.run_id, self.id, tags.get(layout.TAG_NODE_ID),
                       _service_endpoint=self.workspace.tracking_uri, _record=record)

    def steps_in_graph_order(self) -> list[StepRun]:
        """The pipeline's step runs in graph order (upstream first); reused steps are their
        original runs. What the widgets and ``wait_for_completion`` show."""
        return [self.step_run_for(r) for r in self.step_records()]

    def get_steps(self) -> list[StepRun]:
        """The pipeline's step runs in Azure ML v1's order: the newest-created first.

        In v1, ``get_steps()`` is ``get_children()``, whose runs come newest first; the runner
        creates a pipeline's step runs upstream first, so this is the reverse of graph order
        (``steps_in_graph_order()``). Reused steps are their original runs.
        """
        records = sorted(self.step_records(), key=lambda r: r.start_time or 0)  # stable: graph order
        return [self.step_run_for(r) for r in reversed(records)]

    def get_children(self, recursive: bool = False, tags: str | dict[str, str] | None = None,
                     properties: Any = None, type: str | None = None, status: str | None = None,
                     _rehydrate_runs: bool = True) -> list[StepRun]:
        """The step runs of the pipeline, as ``get_steps()`` orders them (Azure ML v1's form).

        ``tags`` keeps the runs that have a tag (a name) or tags with these values (a dict);
        ``status`` the runs with that status. Step runs have no children, so ``recursive``
        changes nothing. ``properties`` and ``type`` do not map (MLflow runs have neither) and
        are an error.
        """
        if properties is not None or type is not None:
            raise StepRunError(f"Pipeline run {self.id!r}: get_children(properties=, type=) is not "
                               "supported: filter with tags= or status=")
        steps = self.get_steps()
        if isinstance(tags, str):
            steps = [s for s in steps if tags in s.tags]
        elif isinstance(tags, dict):
            steps = [s for s in steps if all(s.tags.get(k) == v for k, v in tags.items())]
        elif tags is not None:
            raise StepRunError(f"get_children(tags=...) takes a tag name or a dict, got {tags!r}")
        if status is not None:
            steps = [s for s in steps if s.get_status() == status]
        return steps

    def explain_reuse(self) -> dict[str, str]:
        """``{step name: why it ran or was reused}``, from the reuse records the runner wrote at
        submission (see ``core/reuse_explain.py``); a step made by an older version that wrote none
        says so."""
        from steprun_widgets.core.reuse_explain import explain_step_records

        return explain_step_records(self._rest, self.step_records())

    def get_pipeline_output(self, pipeline_output_name: str) -> PortDataReference:
        """The data of a step output promoted with ``PipelineData(pipeline_output_name=...)``."""
        promoted = layout.decode_pipeline_outputs(self._record().tags.get(layout.TAG_PIPELINE_OUTPUTS))
        if pipeline_output_name not in promoted:
            known = ", ".join(sorted(promoted)) or "none"
            raise OutputNotFoundError(f"Pipeline run {self.id!r} has no pipeline output named "
                                      f"{pipeline_output_name!r} (pipeline outputs: {known})")
        node_id, output_name = promoted[pipeline_output_name]
        for record in self.step_records():
            if record.tags.get(layout.TAG_NODE_ID) == node_id:
                return self.step_run_for(record).get_output_data(output_name)
        raise OutputNotFoundError(f"Pipeline run {self.id!r}: the step that produces pipeline output "
                                  f"{pipeline_output_name!r} has no run")

    def find_step_run(self, name: str) -> list[StepRun]:
        """The step runs whose step name is ``name`` (a list, as in Azure ML v1)."""
        return [s for s in self.steps_in_graph_order() if s.name == name]

    def get_step(self, name: str) -> StepRun:
        """The one step run named ``name``; RunNotFoundError naming the step and the pipeline."""
        found = self.find_step_run(name)
        if not found:
            names = ", ".join(s.name for s in self.steps_in_graph_order()) or "none"
            raise RunNotFoundError(f"Pipeline run {self.id!r} has no step named {name!r} "
                                   f"(steps: {names})")
        return found[0]

    def get_metrics(self, recursive: bool = True) -> dict[str, Any]:
        """``{step run id: {metric: value or values}}`` for every step (see StepRun.get_metrics);
        ``recursive=False``: the pipeline run's own metrics."""
        if not recursive:
            return self._own_metrics()
        return {step.id: step.get_metrics() for step in self.get_steps()}

    def cancel(self) -> None:
        """Ask the runner to stop the pipeline; steps that are still going become Canceled.

        When the runner no longer answers (stale heartbeat or none), the client marks what is
        left Canceled itself so nothing stays Running forever.
        """
        from steprun_widgets.core.cancel import cancel_pipeline

        cancel_pipeline(self)

    def wait_for_completion(self, show_output: bool = True, timeout_seconds: float = sys.maxsize,
                            raise_on_error: bool = True) -> str:
        """Wait for the pipeline to end, streaming each running step's new log lines."""
        from steprun_widgets.core.waiting import wait_for_runs

        return wait_for_runs(self, None, show_output, timeout_seconds, raise_on_error)


def open_run(workspace: Workspace, run_id: str) -> PipelineRun | StepRun:
    """The PipelineRun or StepRun that a run id stands for, whatever its experiment.

    A step written by the runner (or any child run) opens as a StepRun of its parent pipeline; a
    top-level run as a PipelineRun.
    """
    record = workspace.rest.get_run(check_run_id(run_id))
    experiment = Experiment(workspace, workspace.rest.get_experiment(record.experiment_id)["name"])
    experiment._id = record.experiment_id
    parent = record.tags.get(layout.TAG_PARENT_RUN_ID)
    if parent:
        return PipelineRun(experiment, parent).step_run_for(record)
    return PipelineRun(experiment, run_id, _record=record)
