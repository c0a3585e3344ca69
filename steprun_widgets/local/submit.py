"""Submitting a pipeline: decide reuse, lay the runs out on the server, start the runner."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steprun_widgets.core import layout, reuse_explain
from steprun_widgets.core.rest import MlflowRest, RunRecord
from steprun_widgets.errors import ServiceError, StepRunError
from steprun_widgets.local import limits, posix, processes
from steprun_widgets.local.command_step import CommandStep
from steprun_widgets.local.compute import pipeline_executor
from steprun_widgets.local.diskspace import check_free_space, reword_no_space
from steprun_widgets.local.parameters import as_argument, resolve_values
from steprun_widgets.local.pipeline import (
    Pipeline,
    PipelineDefinitionError,
    PipelineStep,
    PythonScriptStep,
)
from steprun_widgets.local.plan import (
    STEP_UMASK_ENV,
    InputPlan,
    PipelinePlan,
    RunnerCredentials,
    StepPlan,
)
from steprun_widgets.local.private import UMASK, open_private, private_dir
from steprun_widgets.local.reuse_key import KeyMaker
from steprun_widgets.local.runconfig import check_environment
from steprun_widgets.local.workarea import PLAN_FILE, RUNNER_LOG, work_area

if TYPE_CHECKING:
    from steprun_widgets.core.experiment import Experiment
    from steprun_widgets.core.runs import PipelineRun

def now_ms() -> int:
    return int(time.time() * 1000)


def submit_pipeline(experiment: Experiment, pipeline: Pipeline, *, executor: Any = None,
                    pipeline_name: str | None = None,
                    pipeline_parameters: Mapping[str, Any] | None = None,
                    regenerate_outputs: bool = False,
                    tags: Mapping[str, str] | None = None) -> PipelineRun:
    """Create the pipeline's runs on the server and start driving it; returns at once.

    ``executor`` None runs the steps as processes of a detached runner (the run goes on if this
    process exits); a Dask ``distributed.Client`` or a scheduler address runs them as Dask tasks
    (also from a detached runner); any other ``concurrent.futures.Executor`` runs them from a
    thread of this process; otherwise the steps' ``compute_target`` decides (local/compute.py).
    ``pipeline_parameters`` override PipelineParameter defaults (params of the pipeline run, part
    of each step's reuse key); ``regenerate_outputs`` runs every step again; ``tags`` are set on
    the pipeline run.
    """
    from steprun_widgets.core.runs import PipelineRun

    if not isinstance(pipeline, Pipeline):
        raise PipelineDefinitionError(f"submit() takes a steprun_widgets.local.Pipeline, got {pipeline!r}")
    pipeline.validate()
    order = pipeline.topological_order()
    executor = pipeline_executor({s.name: s.compute_target for s in order}, executor)
    values = resolve_values(pipeline.parameters(), pipeline_parameters)
    user_tags = _check_tags(tags)
    for step in order:
        check_environment(step.environment, f"Step {step.name!r}")
    dask_address = _dask_address(executor)
    workspace = experiment.workspace
    rest = workspace.rest
    check_free_space(_written_folders(workspace))
    experiment_id = experiment.ensure()
    if workspace.local_root is None:  # the embedded server proxies its artifacts
        # before any run exists: a store the runner cannot write would lose every step's logs
        rest.check_artifact_store(experiment_id)
    name = pipeline_name or default_pipeline_name([s.name for s in order])
    run_tags = {
        **user_tags,
        layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_PIPELINE,
        **layout.graph_tags(layout.encode_graph([{"id": s.node_id, "name": s.name} for s in order],
                                                pipeline.edges(), pipeline.edge_data())),
        layout.TAG_HEARTBEAT: layout.heartbeat_value(),
    }
    if pipeline.description:
        run_tags[layout.TAG_DESCRIPTION] = pipeline.description
    promoted = pipeline.pipeline_outputs()
    if promoted:
        run_tags[layout.TAG_PIPELINE_OUTPUTS] = json.dumps({k: list(v) for k, v in promoted.items()})
    pipeline_record = rest.create_run(experiment_id, name=name, tags=run_tags)
    created: list[str] = [pipeline_record.run_id]
    try:
        if values:
            rest.log_params(pipeline_record.run_id, {layout.param_pipeline_parameter(k): as_argument(v)
                                                     for k, v in values.items()})
        plans = _create_step_runs(rest, experiment_id, pipeline_record, order, created,
                                  values, reuse=not regenerate_outputs, workspace=workspace)
        try:
            work_dir = _work_dir(workspace, pipeline_record.run_id)
        except OSError as exc:
            raise reword_no_space(exc, "work folder of the pipeline",
                                  work_area(workspace.local_root) / pipeline_record.run_id) from None
        local_artifacts = None
        if workspace.local_root is not None and (workspace.local_root / "artifacts").is_dir():
            local_artifacts = str(workspace.local_root / "artifacts")
        plan = PipelinePlan(tracking_uri=workspace.tracking_uri, experiment_id=experiment_id,
                            pipeline_run_id=pipeline_record.run_id, steps=plans, work_dir=str(work_dir),
                            local_artifacts=local_artifacts, dask_address=dask_address,
                            python=sys.executable, embedded=workspace.local_root is not None,
                            server_root=str(workspace.local_root) if workspace.local_root else None)
        plan_path = work_dir / PLAN_FILE
        try:
            plan.save(plan_path)
        except OSError as exc:
            raise reword_no_space(exc, "pipeline's plan", plan_path) from None
        transport = workspace.transport
        credentials = RunnerCredentials(token=transport.token, username=transport.username,
                                        password=transport.password)
        if executor is None or dask_address is not None:
            _spawn_runner(plan_path, work_dir, credentials, private=workspace.local_root is not None)
        else:
            _drive_in_thread(plan, credentials, executor)
    except BaseException as exc:
        _abandon(rest, created, exc)
        raise
    return PipelineRun(experiment, pipeline_record.run_id, _record=pipeline_record)


#: A default name lists the steps while it stays this short; past it, the first step and a count.
DEFAULT_NAME_MAX = 48


def default_pipeline_name(step_names: list[str]) -> str:
    """A short, stable name for a pipeline run submitted without ``pipeline_name``.

    ``"pipeline: prep, train, evaluate"`` while the names fit DEFAULT_NAME_MAX characters, else the
    first step (in graph order) and how many more: ``"pipeline: source +199 steps"``. Azure ML v1
    documents no default here (Azure ML v1's reference is silent), so the name only has to stay
    readable in one line of a widget header and of MLflow's run list, whatever the pipeline size.
    """
    listed = ", ".join(step_names)
    if not step_names or len(listed) <= DEFAULT_NAME_MAX:
        return f"pipeline: {listed}" if step_names else "pipeline"
    first = step_names[0] if len(step_names[0]) <= 32 else f"{step_names[0][:31]}…"
    more = len(step_names) - 1
    if not more:
        return f"pipeline: {first}"
    return f"pipeline: {first} +{more} step{'s' if more > 1 else ''}"


def _output_datasets(step: PipelineStep) -> dict[str, dict]:
    """What happens to each OutputFileDatasetConfig output of a step once it is uploaded."""
    found = {}
    for data in step.outputs:
        extra = {}
        if getattr(data, "destination", None):
            extra["destination"] = list(data.destination)
        if getattr(data, "_registration", None):
            extra["registration"] = data._registration
        if extra:
            found[data.output_name] = extra
    return found


def _data_identity(rest: MlflowRest, entry: dict) -> list:
    """What decides reuse for a data input: its definition and, for files on the server, their
    paths and sizes (a file replaced in a datastore runs the step again)."""
    from steprun_widgets.core.datastore import select_files

    listing = []
    for source in entry["sources"]:
        if "run_id" in source:
            files, _ = select_files(rest, source["run_id"], source.get("path", ""))
            listing.append([(f.path, f.file_size) for f in files])
    return [entry["name"], entry["mode"], entry.get("definition") or entry["sources"], listing]


def _create_step_runs(rest: MlflowRest, experiment_id: str, pipeline_record: RunRecord,
                      order: list[PipelineStep], created: list[str],
                      values: Mapping[str, Any] | None = None, reuse: bool = True,
                      workspace: Any = None) -> list[StepPlan]:
    """One run per step, in topological order; reused steps are marked Finished at once.

    ``reuse`` False (``regenerate_outputs=True``) runs every step; their results are still
    recorded as reusable by later submissions. Every step run gets its reuse record (the key's
    parts and the decision: ``core/reuse_explain.py``), what ``explain_reuse()`` reads.
    """
    pid = pipeline_record.run_id
    keys = KeyMaker(rest, experiment_id, values or {}, reuse=reuse)
    producer_of = {d.name: s.name for s in order for d in s.outputs}
    plans: dict[str, StepPlan] = {}
    for step in order:
        inputs = [InputPlan(d.name, producer_of[d.name], plans[producer_of[d.name]].run_id,
                            None if d.output_name == d.name else d.output_name)
                  for d in step.inputs]
        data_inputs = [d.step_input(workspace) for d in step.data_inputs]
        decision = keys.decide(step, [(i.artifact_name, i.producer_run_id) for i in inputs],
                               [_data_identity(rest, d) for d in data_inputs])
        arguments, key, original = decision.arguments, decision.key, decision.original
        script = step.script_name if isinstance(step, PythonScriptStep) else ""
        tags = {
            layout.TAG_PARENT_RUN_ID: pid,
            layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_STEP,
            layout.TAG_NODE_ID: step.node_id,
            layout.TAG_PIPELINE: pid,
            layout.TAG_OUTPUT_NAMES: ",".join(d.output_name for d in step.outputs),
            layout.TAG_REUSE_WHY: limits.bounded(keys.explain(decision), limits.MAX_TAG_VALUE_LENGTH),
        }
        if original is not None:
            tags.update({
                layout.TAG_REUSED_RUN_ID: original.run_id,
                layout.TAG_REUSED_NODE_ID: original.tags.get(layout.TAG_NODE_ID, ""),
                layout.TAG_REUSED_PIPELINE: original.tags.get(layout.TAG_PIPELINE, ""),
            })
            record = rest.create_run(experiment_id, name=step.name, tags=tags)
            created.append(record.run_id)
            _store_reuse_record(rest, record, decision.record)
            rest.update_run(record.run_id, layout.MLFLOW_STATUS[layout.FINISHED], now_ms())
            run_id = original.run_id
        else:
            tags[layout.TAG_REUSE_KEY] = key
            if inputs or step._run_after:  # waits for upstream steps
                tags[layout.TAG_NOT_STARTED] = "true"
            record = rest.create_run(experiment_id, name=step.name, tags=tags)
            created.append(record.run_id)
            rest.log_params(record.run_id, step_params(step, arguments))
            _store_reuse_record(rest, record, decision.record)
            rest.update_run(record.run_id, layout.MLFLOW_STATUS[layout.QUEUED])
            run_id = record.run_id
        plans[step.name] = StepPlan(
            name=step.name, node_id=step.node_id, run_id=run_id, script_name=script,
            arguments=arguments, inputs=inputs, outputs=[d.output_name for d in step.outputs],
            source_directory=str(step.source_directory.resolve()), reused=original is not None,
            reuse_key=key, after=[o.name for o in step._run_after],
            command=isinstance(step, CommandStep), environment=dict(step.environment.environment),
            python=step.environment.python, data_inputs=data_inputs,
            output_datasets=_output_datasets(step))
    return [plans[s.name] for s in order]


def _store_reuse_record(rest: MlflowRest, record: RunRecord, reuse_record: dict) -> None:
    """Store a step's reuse record (what ``explain_reuse()`` reads), best effort: a store that
    cannot take it now (full, not writable) must not stop the submission; the sentence is in the
    run's tags already, which ``explain_reuse()`` then falls back to. The step itself fails later,
    saying why, if its logs or outputs cannot be stored either."""
    try:
        rest.upload_artifact(record, layout.REUSE_RECORD_PATH, reuse_explain.encode(reuse_record))
    except ServiceError as exc:
        with contextlib.suppress(ServiceError):
            rest.set_tag(record.run_id, layout.TAG_REUSE_RECORD_MISSING,
                         limits.bounded(f"the reuse record could not be stored: {exc}",
                                        limits.MAX_TAG_VALUE_LENGTH))


def step_params(step: PipelineStep, arguments: list) -> dict[str, str]:
    """What the step was, as MLflow params; a value over MLflow's limit (6,000 characters) is cut,
    ending with a note of its full length (a reused step's original run already has them).
    A CommandStep has no script: its command is in the arguments."""
    script = step.script_name if isinstance(step, PythonScriptStep) else ""
    params = layout.encode_step_params(script, arguments, [d.name for d in step.inputs],
                                       [d.output_name for d in step.outputs], step.allow_reuse)
    return {k: limits.bounded(v, limits.MAX_PARAM_VALUE_LENGTH) for k, v in params.items()}


def _check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """``submit(tags=...)``: string names and values, none in the layout's own namespaces."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise StepRunError(f"submit(tags=...) takes a dict of names to strings, got {tags!r}")
    checked = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key or not isinstance(value, str | int | float | bool):
            raise StepRunError(f"submit(tags=...): tag {key!r}: {value!r} must map a name to a string")
        if key.startswith(layout.RESERVED_TAG_PREFIXES):
            raise StepRunError(f"submit(tags=...): tag {key!r} is in a namespace the pipeline layout "
                               f"owns ({', '.join(layout.RESERVED_TAG_PREFIXES)}); choose another name")
        checked[key] = str(value)
    return checked


def _written_folders(workspace) -> dict[str, Path]:
    """The folders a pipeline of this workspace writes to on this machine, by what they are."""
    folders = {"work area": work_area(workspace.local_root)}
    if workspace.local_root is not None:
        folders["embedded server's artifact store"] = workspace.local_root / "artifacts"
    return folders


def _work_dir(workspace, run_id: str) -> Path:
    if workspace.local_root is not None:  # the embedded default: inside its owner-only root
        return private_dir(private_dir(work_area(workspace.local_root), what="work area") / run_id,
                           what="work area")
    folder = work_area(workspace.local_root) / run_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _dask_address(executor: Any) -> str | None:
    if isinstance(executor, str):
        if "://" not in executor:
            raise StepRunError(f"executor {executor!r} is not a Dask scheduler address (tcp://host:port)")
        return executor
    scheduler = getattr(executor, "scheduler", None)
    address = getattr(scheduler, "address", None)
    if type(executor).__module__.startswith("distributed") and isinstance(address, str):
        return address
    if executor is not None and not hasattr(executor, "submit"):
        raise StepRunError(f"executor {executor!r} is neither a concurrent.futures.Executor nor a Dask "
                           "Client or scheduler address")
    return None


def _spawn_runner(plan_path: Path, work_dir: Path, credentials: RunnerCredentials, *,
                  private: bool = False) -> None:
    """Start the detached runner process (its own session: it outlives this kernel).

    The credentials go in its environment. ``private`` (the embedded default): the runner writes into the
    owner-only root with umask 077, and hands the submitter's own umask back to the steps.
    """
    env = dict(os.environ)
    credentials.to_environment(env)
    umask = -1
    env.pop(STEP_UMASK_ENV, None)
    if private:
        umask = UMASK
        env[STEP_UMASK_ENV] = f"{posix.current_umask():03o}"
    with os.fdopen(open_private(work_dir / RUNNER_LOG), "ab") as log:
        subprocess.Popen([sys.executable, "-m", "steprun_widgets.local.runner", str(plan_path)],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         close_fds=True, env=env, cwd=work_dir, **processes.detached_kwargs(umask))


def _drive_in_thread(plan: PipelinePlan, credentials: RunnerCredentials, executor: Any) -> None:
    from steprun_widgets.local.runner import PipelineDriver

    driver = PipelineDriver(plan, credentials=credentials, executor=executor)
    threading.Thread(target=driver.run, name=f"steprun-pipeline-{plan.pipeline_run_id[:8]}",
                     daemon=True).start()


def _abandon(rest: MlflowRest, run_ids: list[str], exc: BaseException) -> None:
    """A submission that broke half-way: mark what it created Failed so nothing stays Running."""
    reason = f"submission failed: {type(exc).__name__}: {exc}"[:500]
    for run_id in run_ids:
        try:
            rest.set_tag(run_id, layout.TAG_ERROR, reason)
            rest.update_run(run_id, layout.MLFLOW_STATUS[layout.FAILED], now_ms())
        except ServiceError:
            pass
