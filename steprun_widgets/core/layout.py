"""The run layout on the tracking server: every tag name, artifact path and status word.

The runner writes this layout and the client reads it; this module is the only place that spells
the names, so both sides stay in step. ``docs/run-layout.md`` describes the layout for readers
(and for other tools that want to write runs the widgets can open).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

# --- tags ---------------------------------------------------------------------------------------
TAG_PARENT_RUN_ID = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"
#: MLflow's description of a run (shown in its UI): a Pipeline's ``description``.
TAG_DESCRIPTION = "mlflow.note.content"
TAG_RUN_SOURCE = "azureml.runsource"
RUN_SOURCE_PIPELINE = "azureml.PipelineRun"
RUN_SOURCE_STEP = "azureml.StepRun"
TAG_NODE_ID = "azureml.nodeid"
TAG_PIPELINE = "azureml.pipeline"
TAG_REUSED_RUN_ID = "azureml.reusedrunid"
TAG_REUSED_NODE_ID = "azureml.reusednodeid"
TAG_REUSED_PIPELINE = "azureml.reusedpipeline"
TAG_GRAPH = "steprun.graph"
TAG_HEARTBEAT = "steprun.heartbeat"
TAG_ERROR = "steprun.error"
#: Hash of what makes a step's result reusable (source, script, arguments, input data identity).
TAG_REUSE_KEY = "steprun.reusekey"
#: Why the step ran or was reused, the sentence ``core/reuse_explain.py`` makes from the step's reuse
#: record (``REUSE_RECORD_PATH``) at submission: what the widgets show without reading the record.
TAG_REUSE_WHY = "steprun.reusewhy"
#: Set on a step run whose reuse record could not be stored at submission (a full or read-only
#: store): why; ``explain_reuse()`` then gives the sentence of ``TAG_REUSE_WHY``.
TAG_REUSE_RECORD_MISSING = "steprun.reuserecordmissing"
#: Set on a pipeline run by ``PipelineRun.cancel()``; the runner watches for it.
TAG_CANCEL_REQUESTED = "steprun.cancelrequested"
#: Set on a step whose inputs are not ready yet (its MLflow status is SCHEDULED meanwhile).
TAG_NOT_STARTED = "steprun.notstarted"
#: When the step's process started (ms since the epoch); MLflow's start_time is when it was queued.
TAG_STARTED_AT = "steprun.startedat"
#: JSON {log name: bytes shipped} the runner refreshes about once a second while a step runs, so a
#: poller learns from one runs/search which logs have new bytes instead of asking per log.
TAG_LOG_SIZES = "steprun.logsizes"
#: Names of the step's outputs, JSON list, so a widget can show them before they are uploaded.
TAG_OUTPUT_NAMES = "steprun.outputs"
#: JSON {pipeline output name: [node id, output name]} on a pipeline run: the step outputs that
#: ``PipelineData(pipeline_output_name=...)`` promoted to the pipeline (``get_pipeline_output``).
TAG_PIPELINE_OUTPUTS = "steprun.pipelineoutputs"
#: MLflow's own tag on a run that logged images with ``mlflow.log_image(key=...)``; MLflow's UI
#: reads it too, to know whether a run has images at all.
TAG_MLFLOW_LOGGED_IMAGES = "mlflow.loggedImages"

# --- artifacts ----------------------------------------------------------------------------------
LOGS_DIR = "logs"
OUTPUTS_DIR = "outputs"
#: The logs a step run has, by the name the API and the widget use.
LOG_FILES: dict[str, str] = {
    "stdout": f"{LOGS_DIR}/stdout.txt",
    "stderr": f"{LOGS_DIR}/stderr.txt",
    "job": f"{LOGS_DIR}/job.txt",
}
LOG_NAMES: tuple[str, ...] = tuple(LOG_FILES)


def output_path(output_name: str) -> str:
    """The artifact folder that holds an output of a step run."""
    return f"{OUTPUTS_DIR}/{output_name}"


#: A small JSON artifact of every step run the runner creates: the parts of its reuse key (source
#: digest and per-file digests, script, arguments, parameter values, input runs, environment) and
#: the decision made at submission (ran or reused, and the run it was compared with), so any client
#: can say why the step ran (``core/reuse_explain.py`` reads it).
REUSE_RECORD_PATH = "steprun/reuse.json"

#: Images a step logged with ``Run.log_image`` : ``images/<name>.png``.
IMAGES_DIR = "images"


def image_path(image_name: str) -> str:
    """The artifact path of an image a step logged under ``image_name``."""
    return f"{IMAGES_DIR}/{image_name}.png"


# --- parameters and metrics (docs/run-layout.md) -------------------------------------------------
#: MLflow params the runner records for every step it runs: what the step *was*. Prefixed so that a
#: step's own ``mlflow.log_param("script", ...)`` never collides (MLflow params cannot change).
PARAM_SCRIPT = "steprun.script"
PARAM_ARGUMENTS = "steprun.arguments"
PARAM_INPUTS = "steprun.inputs"
PARAM_OUTPUTS = "steprun.outputs"
PARAM_ALLOW_REUSE = "steprun.allow_reuse"
STEP_PARAMS: tuple[str, ...] = (PARAM_SCRIPT, PARAM_ARGUMENTS, PARAM_INPUTS, PARAM_OUTPUTS,
                                PARAM_ALLOW_REUSE)


def encode_step_params(script: str, arguments: list, inputs: list[str], outputs: list[str],
                       allow_reuse: bool) -> dict[str, str]:
    """The params that record what a step was (docs/run-layout.md): data arguments as ``{"data": name}``."""
    def js(value) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    return {PARAM_SCRIPT: script, PARAM_ARGUMENTS: js(arguments), PARAM_INPUTS: js(inputs),
            PARAM_OUTPUTS: js(outputs), PARAM_ALLOW_REUSE: "true" if allow_reuse else "false"}

#: JSON ``{table name: [column, ...]}`` of the tables a step logged with ``log_row``/``log_table``;
#: each column is the metric ``<table>/<column>`` with ``step`` = row index.
TAG_METRIC_TABLES = "steprun.tables"
#: JSON ``{metric name: description}`` for metrics logged with a non-empty description.
TAG_METRIC_DESCRIPTIONS = "steprun.metricdescriptions"
#: JSON list of the names logged with ``log_list`` (a list of one value still reads as a list).
TAG_METRIC_LISTS = "steprun.lists"
#: Tag prefixes of the layout (MLflow's own, Azure ML's, ours): a step's ``Run.tag`` may not set them.
RESERVED_TAG_PREFIXES: tuple[str, ...] = ("mlflow.", "azureml.", "steprun.")


def table_column_metric(table: str, column: str) -> str:
    """The MLflow metric that holds one column of a table logged with ``log_row``."""
    return f"{table}/{column}"


#: The name a PortDataReference reports as its datastore: the tracking server's artifact store.
DATASTORE_NAME = "mlflow-artifacts"


def datastore_path(run_id: str, output_name: str) -> str:
    """An output's ``path_on_datastore``, in Azure ML's form ``azureml/<step run id>/<output name>``.

    ``PortDataReference.download(local_path)`` lays files out under ``<local_path>/<this>/``, as
    Azure ML does, so code that joins ``local_path`` and ``path_on_datastore`` finds them.
    """
    return f"azureml/{run_id}/{output_name}"


#: Prefix of the params that record a pipeline run's PipelineParameter values (prefixed like the
#: step params, so a parameter named ``script`` never collides with them).
PIPELINE_PARAMETER_PREFIX = "steprun.pipeline_parameter."


def param_pipeline_parameter(name: str) -> str:
    """The MLflow param of a pipeline run that holds the value of PipelineParameter ``name``."""
    return f"{PIPELINE_PARAMETER_PREFIX}{name}"


# --- statuses -----------------------------------------------------------------------------------
NOT_STARTED = "NotStarted"
QUEUED = "Queued"
RUNNING = "Running"
FINISHED = "Finished"
FAILED = "Failed"
CANCELED = "Canceled"
NOT_RESPONDING = "NotResponding"

#: MLflow run status -> Azure ML v1's status word.
STATUS_MAP: dict[str, str] = {
    "SCHEDULED": QUEUED,
    "RUNNING": RUNNING,
    "FINISHED": FINISHED,
    "FAILED": FAILED,
    "KILLED": CANCELED,
}
#: Azure ML v1's status word -> the MLflow status the runner writes.
MLFLOW_STATUS: dict[str, str] = {v: k for k, v in STATUS_MAP.items()}
TERMINAL_STATUSES = frozenset({FINISHED, FAILED, CANCELED})

#: The runner refreshes the heartbeat of running steps this often (seconds).
HEARTBEAT_INTERVAL = 5.0
#: A RUNNING run whose heartbeat is older than this is reported as NotResponding (seconds).
HEARTBEAT_STALE_AFTER = 20.0


def is_terminal(status: str) -> bool:
    """True for an Azure ML v1 status after which a run never changes again."""
    return status in TERMINAL_STATUSES


def azureml_status(mlflow_status: str, tags: Mapping[str, str], now: float | None = None) -> str:
    """Map an MLflow run status (and the run's tags) to Azure ML v1's status word (``StepRun.get_status()``).

    A RUNNING run whose heartbeat tag is stale is ``NotResponding``; a SCHEDULED step marked as
    waiting for its inputs is ``NotStarted``. Runs without heartbeat tags (other tools) keep the
    plain mapping.
    """
    status = STATUS_MAP.get(mlflow_status, mlflow_status.title() if mlflow_status else NOT_STARTED)
    if status == RUNNING:
        beat = parse_heartbeat(tags.get(TAG_HEARTBEAT))
        if beat is not None and (now if now is not None else time.time()) - beat > HEARTBEAT_STALE_AFTER:
            return NOT_RESPONDING
    elif status == QUEUED and tags.get(TAG_NOT_STARTED) == "true":
        return NOT_STARTED
    return status


def heartbeat_value(now: float | None = None) -> str:
    """The value the runner writes in the heartbeat tag: seconds since the epoch."""
    return f"{(now if now is not None else time.time()):.3f}"


def parse_heartbeat(value: str | None) -> float | None:
    """The time a heartbeat tag records, or None when absent or unreadable."""
    try:
        return float(value) if value else None
    except ValueError:
        return None


def encode_log_sizes(sizes: Mapping[str, int]) -> str:
    return json.dumps(dict(sizes), separators=(",", ":"), sort_keys=True)


def decode_log_sizes(value: str | None) -> dict[str, int] | None:
    """The log sizes a runner published, or None when the run has none (other tools)."""
    try:
        sizes = json.loads(value) if value else None
    except ValueError:
        return None
    if not isinstance(sizes, dict):
        return None
    return {k: v for k, v in sizes.items() if isinstance(v, int)}


# --- the pipeline graph -------------------------------------------------------------------------
def encode_graph(nodes: list[dict[str, str]], edges: list[tuple[str, str]],
                 edge_data: Mapping[tuple[str, str], list[str]] | None = None) -> str:
    """The compact JSON kept in the pipeline run's graph tag: nodes (id, name) and edges.

    An edge that carries data is ``[from, to, [PipelineData name, ...]]`` (``edge_data``), one
    without (``run_after``) stays ``[from, to]``.
    """
    edge_data = edge_data or {}

    def edge(e: tuple[str, str]) -> list:
        names = edge_data.get(tuple(e))
        return [*e, list(names)] if names else list(e)

    return json.dumps({"nodes": nodes, "edges": [edge(e) for e in edges]}, separators=(",", ":"))


#: The graph tag is split into tags of at most this many characters: ``steprun.graph``, then
#: ``steprun.graph.1``, ``steprun.graph.2``... MLflow 2.9 refuses a tag value over 5,000 characters
#: (3.x over 8,000), and a server on PostgreSQL or MySQL stores tag values in a column of that size,
#: while a 200-step graph takes about 20,000.
GRAPH_TAG_CHUNK = 5000


def graph_tags(value: str) -> dict[str, str]:
    """The tags that hold the graph JSON ``value`` (``encode_graph``), each within the limit."""
    chunks = [value[i:i + GRAPH_TAG_CHUNK] for i in range(0, len(value), GRAPH_TAG_CHUNK)] or [""]
    return {TAG_GRAPH if i == 0 else f"{TAG_GRAPH}.{i}": chunk for i, chunk in enumerate(chunks)}


def graph_value(tags: Mapping[str, str]) -> str | None:
    """The graph JSON a pipeline run's tags hold (``graph_tags``), or None without a graph tag."""
    first = tags.get(TAG_GRAPH)
    if first is None:
        return None
    parts = [first]
    while f"{TAG_GRAPH}.{len(parts)}" in tags:
        parts.append(tags[f"{TAG_GRAPH}.{len(parts)}"])
    return "".join(parts)


def _graph_json(value: str | None) -> dict:
    try:
        graph = json.loads(value) if value else {}
    except ValueError:
        graph = {}
    return graph if isinstance(graph, dict) else {}  # valid JSON but not an object: ``[]``, ``5``


def _raw_edges(graph: dict) -> list[list]:
    raw = graph.get("edges")
    return [e for e in (raw if isinstance(raw, list) else [])
            if isinstance(e, list) and len(e) in (2, 3) and isinstance(e[0], str) and isinstance(e[1], str)]


def decode_graph(value: str | None) -> dict:
    """Read the graph tag back; a missing or malformed tag gives an empty graph."""
    graph = _graph_json(value)
    raw_nodes = graph.get("nodes")
    nodes = [n for n in (raw_nodes if isinstance(raw_nodes, list) else [])
             if isinstance(n, dict) and isinstance(n.get("id"), str)]
    return {"nodes": nodes, "edges": [tuple(e[:2]) for e in _raw_edges(graph)]}


def decode_edge_data(value: str | None) -> dict[tuple[str, str], list[str]]:
    """The PipelineData names each edge of the graph tag carries: (from, to) -> names.

    Edges without data, and graph tags written before edges carried data, give none.
    """
    found = {}
    for e in _raw_edges(_graph_json(value)):
        if len(e) == 3 and isinstance(e[2], list):
            names = [n for n in e[2] if isinstance(n, str) and n]
            if names:
                found[(e[0], e[1])] = names
    return found


def decode_pipeline_outputs(value: str | None) -> dict[str, tuple[str, str]]:
    """Read the pipeline-outputs tag back: name -> (node id, output name); malformed gives {}."""
    try:
        raw = json.loads(value) if value else {}
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    return {k: (v[0], v[1]) for k, v in raw.items()
            if isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)}


def is_step_run(tags: Mapping[str, str]) -> bool:
    """True for a run that the runner wrote as a step of a pipeline."""
    return tags.get(TAG_RUN_SOURCE) == RUN_SOURCE_STEP


def may_have_images(tags: Mapping[str, str]) -> bool:
    """Whether a run's ``images/`` is worth a listing: a step of the runner (``Run.log_image``), or
    a run of another tool that MLflow's ``log_image`` tagged. Other runs of other tools say nothing
    of images, and a listing for each of them would double what a pipeline's step views cost."""
    return is_step_run(tags) or TAG_MLFLOW_LOGGED_IMAGES in tags


# --- published pipelines --------------------------------------------------------------------------
#: The experiment that holds what is published: one run per published pipeline, per pipeline
#: endpoint and per source snapshot (its artifact). Every client of the server finds them there.
PUBLISHED_EXPERIMENT = "steprun.published-pipelines"
#: What a run of the published-pipelines experiment stands for.
TAG_PUBLISHED_KIND = "steprun.published.kind"
PUBLISHED_KIND_PIPELINE = "pipeline"
PUBLISHED_KIND_ENDPOINT = "endpoint"
PUBLISHED_KIND_SNAPSHOT = "snapshot"
#: A published pipeline's or an endpoint's name, version, status ("Active" / "Disabled").
TAG_PUBLISHED_NAME = "steprun.published.name"
TAG_PUBLISHED_VERSION = "steprun.published.version"
TAG_PUBLISHED_STATUS = "steprun.published.status"
PUBLISHED_ACTIVE = "Active"
PUBLISHED_DISABLED = "Disabled"
#: A published pipeline's ``continue_on_step_failure`` ("true"/"false"; absent when not given).
TAG_PUBLISHED_CONTINUE = "steprun.published.continueonstepfailure"
#: JSON {parameter name: default value} of a published pipeline (also in its definition).
TAG_PUBLISHED_PARAMETERS = "steprun.published.parameters"
#: A pipeline endpoint's JSON list of [version, published pipeline id], and its default version.
TAG_ENDPOINT_VERSIONS = "steprun.endpoint.versions"
TAG_ENDPOINT_DEFAULT = "steprun.endpoint.defaultversion"
#: The pipeline definition of a published pipeline (steps, data, parameters, snapshot digests).
PUBLISHED_DEFINITION = "published/pipeline.json"
#: A source snapshot's digest, size in bytes, file count, and the tag set once its archive is stored.
TAG_SNAPSHOT_DIGEST = "steprun.snapshot.digest"
TAG_SNAPSHOT_SIZE = "steprun.snapshot.size"
TAG_SNAPSHOT_FILES = "steprun.snapshot.files"
TAG_SNAPSHOT_COMPLETE = "steprun.snapshot.complete"
#: The archive a snapshot run holds (a gzip'd tar of the source folder's files).
SNAPSHOT_ARCHIVE = "snapshot/source.tar.gz"
#: On a pipeline run submitted from a published pipeline: that pipeline's id (and its endpoint's name).
TAG_PUBLISHED_FROM = "steprun.published.pipelineid"
TAG_SUBMITTED_ENDPOINT = "steprun.published.endpoint"

# --- datastores, datasets and models (Azure ML v1's data API) -------------------------------------
#: The experiment whose runs hold the files of the datastores: one run per datastore, its artifacts
#: being the datastore's files, so every client of the tracking server (and a step on a Dask worker)
#: reaches them through the server, with no shared folder.
DATASTORE_EXPERIMENT = "steprun.datastores"
#: The datastore name a datastore's run carries.
TAG_DATASTORE = "steprun.datastore"
#: The name of the default datastore (Azure ML v1's, which samples spell out).
DEFAULT_DATASTORE = "workspaceblobstore"
#: Datastores every workspace has (v1 creates both with the workspace).
BUILTIN_DATASTORES: tuple[str, ...] = (DEFAULT_DATASTORE, "workspacefilestore")
#: Where local files that a dataset or a step input names are uploaded in the default datastore,
#: under a digest of their content (the same files are uploaded once).
DATASET_UPLOADS_DIR = "datasets"

#: The experiment whose runs are the registered datasets: one run per name and version.
DATASET_EXPERIMENT = "steprun.datasets"
TAG_DATASET_NAME = "steprun.dataset.name"
TAG_DATASET_VERSION = "steprun.dataset.version"
#: The dataset's definition (JSON: kind, sources, format, transforms).
TAG_DATASET_DEFINITION = "steprun.dataset.definition"
#: MLflow's tag on a dataset input saying what the run used it for.
DATASET_CONTEXT_TAG = "mlflow.data.context"

#: The experiment whose runs hold the files of models registered from a local path (Model.register).
MODEL_EXPERIMENT = "steprun.models"
#: The artifact folder of such a run that holds the model's files.
MODEL_DIR = "model"
