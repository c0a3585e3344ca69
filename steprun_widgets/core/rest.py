"""The MLflow tracking REST API (2.x/3.x), as thin typed calls over :class:`Transport`.

Covers what the client and the runner need: experiments, runs (get, search, create, update,
tags), and artifacts (list, ranged read, streamed download, upload).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote

import requests

from steprun_widgets.core import artifact_store, layout
from steprun_widgets.core.transport import API, Transport, check_run_id
from steprun_widgets.errors import ArtifactStoreError, RunNotFoundError, ServiceError, StepRunError

ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
_NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")
#: How a server says "no such artifact" in an HTTP 500 INTERNAL_ERROR: MLflow 2.x with a folder store
#: (the OS error), and a proxied server backed by an object store, in the store's own words: S3
#: (botocore's ``ClientError``), Google Cloud Storage, Azure Blob Storage and ADLS Gen2.
_NO_SUCH_FILE = ("No such file or directory", "FileNotFoundError",
                 "NoSuchKey", "HeadObject operation: Not Found", "(404) when calling",
                 "No such object", "google.api_core.exceptions.NotFound",
                 "BlobNotFound", "The specified blob does not exist", "PathNotFound",
                 "The specified path does not exist", "ResourceNotFoundError")
SEARCH_PAGE = 1000


@dataclass
class RunRecord:
    """One run as the server describes it: info plus tags."""

    run_id: str
    experiment_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = "active"
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    #: The latest value of each metric as the server reports it with the run (key -> raw JSON
    #: ``{"key", "value", "step", "timestamp"}``); see :mod:`steprun_widgets.core.metrics`.
    metrics: dict[str, dict] = field(default_factory=dict)
    #: MLflow 3 logged models the run produced (``outputs.model_outputs``): their model ids.
    model_ids: list[str] = field(default_factory=list)
    #: MLflow dataset inputs of the run (``inputs.dataset_inputs``): ``{"dataset": {...}, "tags": [...]}``.
    dataset_inputs: list[dict] = field(default_factory=list)

    @classmethod
    def from_json(cls, run: Mapping[str, Any]) -> RunRecord:
        info = run.get("info", {})
        data = run.get("data", {})
        return cls(
            run_id=info.get("run_id") or info.get("run_uuid", ""),
            experiment_id=str(info.get("experiment_id", "")),
            status=info.get("status", ""),
            start_time=_int_or_none(info.get("start_time")),
            end_time=_int_or_none(info.get("end_time")),
            artifact_uri=info.get("artifact_uri", ""),
            lifecycle_stage=info.get("lifecycle_stage", "active"),
            tags={t["key"]: t.get("value", "") for t in data.get("tags", []) if "key" in t},
            params={p["key"]: p.get("value", "") for p in data.get("params", []) if "key" in p},
            metrics={m["key"]: m for m in data.get("metrics", []) if isinstance(m, dict) and "key" in m},
            model_ids=list(dict.fromkeys(
                o["model_id"] for o in (run.get("outputs") or {}).get("model_outputs", [])
                if isinstance(o, dict) and isinstance(o.get("model_id"), str))),
            dataset_inputs=[d for d in (run.get("inputs") or {}).get("dataset_inputs", [])
                            if isinstance(d, dict) and isinstance(d.get("dataset"), dict)],
        )

    @property
    def name(self) -> str:
        return self.tags.get(layout.TAG_RUN_NAME) or self.run_id

    @property
    def started_ms(self) -> int | None:
        """When the run really started, or None for a run that never did.

        The one rule for every view (widgets, details, ``wait_for_completion``): the runner's
        start tag; else MLflow's start time, which is when the run was *queued*, so only for a
        run that left the queue and is not a runner's step. The runner tags each step it starts:
        one of its steps without the tag never ran (queued, waiting for its inputs, or canceled
        before it started), except a reused one, which is created Finished. No start, no
        elapsed time or duration.
        """
        tagged = _int_or_none(self.tags.get(layout.TAG_STARTED_AT))
        if tagged:
            return tagged
        if self.azureml_status() in (layout.QUEUED, layout.NOT_STARTED):
            return None
        if layout.is_step_run(self.tags) and not self.tags.get(layout.TAG_REUSED_RUN_ID):
            return None
        return self.start_time

    def azureml_status(self, now: float | None = None) -> str:
        return layout.azureml_status(self.status, self.tags, now)


@dataclass(frozen=True)
class FileInfo:
    """An artifact entry: a path relative to the run's artifact root."""

    path: str
    is_dir: bool
    file_size: int | None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class MlflowRest:
    """The REST calls, raising typed errors that name the run or experiment at fault."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        #: The artifact URI of each run seen (it never changes): lists by run id go to the right store.
        self._artifact_uris: dict[str, str] = {}
        #: Runs asked for per ``runs/search`` page (MLflow's own maximum is larger; tests lower it).
        self.search_page = SEARCH_PAGE

    # --- experiments ----------------------------------------------------------------------------
    def get_experiment_by_name(self, name: str) -> dict | None:
        """The experiment with this name, or None when there is none."""
        try:
            body = self.transport.get_json(f"{API}/experiments/get-by-name",
                                           {"experiment_name": name})
        except ServiceError as exc:
            # Only MLflow's own "does not exist" code: a bare 404 page means the URL is wrong.
            if exc.error_code in _NOT_FOUND:
                return None
            raise
        experiment = body.get("experiment")
        if not isinstance(experiment, dict) or "experiment_id" not in experiment:
            raise ServiceError(f"Malformed answer for experiment {name!r} from "
                               f"{self.transport.display_url}", url=self.transport.base_url)
        return experiment

    def get_experiment(self, experiment_id: str) -> dict:
        """The experiment with this id; RunNotFoundError naming it when there is none."""
        try:
            body = self.transport.get_json(f"{API}/experiments/get", {"experiment_id": experiment_id})
        except ServiceError as exc:
            if exc.error_code in _NOT_FOUND:
                raise RunNotFoundError(f"Experiment id {experiment_id!r} was not found on "
                                       f"{self.transport.place}") from None
            raise
        experiment = body.get("experiment")
        if not isinstance(experiment, dict) or "name" not in experiment:
            raise ServiceError(f"Malformed answer for experiment id {experiment_id!r} from "
                               f"{self.transport.display_url}", url=self.transport.base_url)
        return experiment

    def search_experiments(self) -> list[dict]:
        """Every active experiment on the server (all pages)."""
        found: list[dict] = []
        token = None
        while True:
            body: dict[str, Any] = {"max_results": SEARCH_PAGE, "view_type": "ACTIVE_ONLY"}
            if token:
                body["page_token"] = token
            answer = self.transport.post_json(f"{API}/experiments/search", body)
            found.extend(e for e in answer.get("experiments", []) if isinstance(e, dict))
            token = answer.get("next_page_token")
            if not token:
                return found

    def get_or_create_experiment(self, name: str) -> str:
        """The id of the experiment with this name, creating it when missing."""
        experiment = self.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment["experiment_id"])
        try:
            return str(self.transport.post_json(f"{API}/experiments/create",
                                                {"name": name})["experiment_id"])
        except ServiceError as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        experiment = self.get_experiment_by_name(name)
        if experiment is None:
            raise RunNotFoundError(f"Experiment {name!r} could not be created")
        return str(experiment["experiment_id"])

    # --- runs -----------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> RunRecord:
        check_run_id(run_id)
        try:
            body = self.transport.get_json(f"{API}/runs/get", {"run_id": run_id})
        except ServiceError as exc:
            if exc.error_code in _NOT_FOUND:  # not a bare 404 page: that is a wrong URL
                raise RunNotFoundError(f"Run {run_id!r} was not found on "
                                       f"{self.transport.place}") from None
            raise
        if not isinstance(body.get("run"), dict):
            raise ServiceError(f"Malformed answer for run {run_id!r} from "
                               f"{self.transport.display_url}", url=self.transport.base_url)
        return self._seen(RunRecord.from_json(body["run"]))

    def _seen(self, record: RunRecord) -> RunRecord:
        if record.artifact_uri:
            if len(self._artifact_uris) > 100_000:
                self._artifact_uris.clear()
            self._artifact_uris[record.run_id] = record.artifact_uri
        return record

    def search_runs(self, experiment_ids: Iterable[str], filter_string: str = "",
                    order_by: Iterable[str] = (), max_results: int | None = None
                    ) -> list[RunRecord]:
        """Every run that matches (all pages), or the first ``max_results``."""
        runs: list[RunRecord] = []
        token = None
        while True:
            size = self.search_page
            page = size if max_results is None else min(size, max_results - len(runs))
            body: dict[str, Any] = {"experiment_ids": list(experiment_ids),
                                    "filter": filter_string, "max_results": page,
                                    "order_by": list(order_by), "run_view_type": "ACTIVE_ONLY"}
            if token:
                body["page_token"] = token
            answer = self.transport.post_json(f"{API}/runs/search", body)
            runs.extend(self._seen(RunRecord.from_json(r)) for r in answer.get("runs", []))
            token = answer.get("next_page_token")
            if not token or (max_results is not None and len(runs) >= max_results):
                return runs

    def create_run(self, experiment_id: str, *, name: str, tags: Mapping[str, str],
                   start_time: int | None = None) -> RunRecord:
        all_tags = {layout.TAG_RUN_NAME: name, **tags}
        body = {"experiment_id": experiment_id, "run_name": name,
                "start_time": start_time if start_time is not None else int(time.time() * 1000),
                "tags": [{"key": k, "value": v} for k, v in all_tags.items()]}
        return self._seen(RunRecord.from_json(self.transport.post_json(f"{API}/runs/create", body)["run"]))

    def update_run(self, run_id: str, status: str, end_time: int | None = None) -> None:
        """Set a run's MLflow status (``RUNNING``, ``FINISHED``...) and, when terminal, its end."""
        body: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id, "status": status}
        if end_time is not None:
            body["end_time"] = end_time
        self.transport.post_json(f"{API}/runs/update", body)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set several tags in one request (``runs/log-batch``)."""
        if tags:
            self.transport.post_json(f"{API}/runs/log-batch", {
                "run_id": run_id, "tags": [{"key": k, "value": v} for k, v in tags.items()]})

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Record params in one request (``runs/log-batch``; at most 100, MLflow's batch limit)."""
        if params:
            self.transport.post_json(f"{API}/runs/log-batch", {
                "run_id": run_id, "params": [{"key": k, "value": v} for k, v in params.items()]})

    def log_inputs(self, run_id: str, datasets: list[dict]) -> None:
        """Record MLflow dataset inputs of a run (``runs/log-inputs``): each
        ``{"dataset": {"name", "digest", "source_type", "source"}, "tags": [...]}``."""
        if datasets:
            self.transport.post_json(f"{API}/runs/log-inputs", {"run_id": run_id, "datasets": datasets})

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.transport.post_json(f"{API}/runs/set-tag",
                                 {"run_id": run_id, "run_uuid": run_id, "key": key, "value": value})

    # --- metrics --------------------------------------------------------------------------------
    def get_metric_history(self, run_id: str, key: str, max_results: int | None = None,
                           page_token: str | None = None) -> tuple[list[dict], str | None]:
        """One page of a metric's history (``metrics/get-history``) and the next page's token.

        The server orders the values by timestamp, then step, then value. ``max_results`` asks for
        a page; servers before paging (MLflow 2.9) ignore it and send the whole history with no
        token. A metric the run never logged has an empty history.
        """
        params: dict[str, Any] = {"run_id": run_id, "metric_key": key}
        if max_results is not None:
            params["max_results"] = max_results
        if page_token:
            params["page_token"] = page_token
        try:
            body = self.transport.get_json(f"{API}/metrics/get-history", params)
        except ServiceError as exc:
            if exc.error_code in _NOT_FOUND:
                raise RunNotFoundError(f"Run {run_id!r} was not found on "
                                       f"{self.transport.place} (reading metric {key!r})") from None
            raise
        metrics = body.get("metrics", [])
        if not isinstance(metrics, list):
            raise ServiceError(f"Malformed history of metric {key!r} of run {run_id!r} from "
                               f"{self.transport.display_url}", url=self.transport.base_url)
        return [m for m in metrics if isinstance(m, dict)], body.get("next_page_token") or None

    # --- artifacts ------------------------------------------------------------------------------
    def list_artifacts(self, run_id: str, path: str = "") -> list[FileInfo]:
        """The entries directly under ``path`` of a run's artifacts (empty when there is none).

        A run whose store this client reaches itself is listed there. A run not seen yet is listed
        by the server (no extra request), whose answer says where the run keeps its artifacts
        (``root_uri``); only when the server cannot list them is the run itself asked for.
        """
        known = run_id in self._artifact_uris
        if known:
            store = self.direct_store(run_id)
            if store is not None:
                return [FileInfo(e.path, e.is_dir, e.size) for e in store.list(path)]
        params = {"run_id": run_id}
        if path:
            params["path"] = path
        try:
            body = self.transport.get_json(f"{API}/artifacts/list", params)
        except ServiceError as exc:
            if not known and exc.status_code == 500:  # perhaps a store only this client reaches
                store = self.direct_store(run_id)
                if store is not None:
                    return [FileInfo(e.path, e.is_dir, e.size) for e in store.list(path)]
            if is_missing_artifact(exc):
                return []
            raise self._store_error(exc, run_id, path) from None
        root = body.get("root_uri")
        if not known and isinstance(root, str) and root:
            self._artifact_uris[run_id] = root
        return [FileInfo(f.get("path", ""), bool(f.get("is_dir")), _int_or_none(f.get("file_size")))
                for f in body.get("files", []) if isinstance(f, dict)]

    def direct_store(self, run: RunRecord | str) -> artifact_store.DirectStore | None:
        """The store of a run whose artifacts this client reaches itself (an object store the server
        does not proxy, a folder of this machine), or None when the server serves them.

        Raises :class:`~steprun_widgets.core.artifact_store.StoreMissing` naming the extra to
        install when the store's package is missing. A run id not seen yet costs one ``runs/get``
        (one that does not exist: None, and the server's answer says so).
        """
        if isinstance(run, RunRecord):
            uri, run_id = run.artifact_uri, run.run_id
        else:
            run_id = run
            uri = self._artifact_uris.get(run_id)
            if uri is None:
                try:
                    uri = self.get_run(run_id).artifact_uri
                except RunNotFoundError:
                    return None  # the server's listing says so in its own words
        if not uri or not artifact_store.is_direct(uri):
            return None
        return artifact_store.store_for(uri, run_id,
                                        f"the tracking server at {self.transport.display_url}")

    def check_artifact_store(self, experiment_id: str) -> None:
        """Before a submission: refuse when the runner could not store logs and outputs.

        A server that proxies artifacts takes them itself. Otherwise the experiment's artifact
        location must be a store this machine reaches: its package installed (the error names the
        extra, and ``--serve-artifacts``), its credentials accepted (one listing).
        """
        location = str(self.get_experiment(experiment_id).get("artifact_location", ""))
        scheme = artifact_store.scheme_of(location)
        if scheme == artifact_store.PROXIED_SCHEME:
            return
        where = f"the tracking server at {self.transport.display_url}"
        if not artifact_store.is_direct(location, levels=1):
            raise ArtifactStoreError(
                f"Experiment {experiment_id!r} keeps its artifacts in {location!r}, which {where} "
                "does not proxy and this machine cannot reach; start the server with "
                "--serve-artifacts so that it proxies them", url=self.transport.base_url)
        try:
            artifact_store.store_for(location, f"experiment {experiment_id}", where).check()
        except artifact_store.StoreMissing:
            raise artifact_store.StoreMissing(
                f"Cannot run a pipeline here: experiment {experiment_id!r} keeps its artifacts in "
                f"{location}, which {where} does not proxy; the steps' logs and outputs could not be "
                f"stored. {artifact_store.install_hint(location).capitalize()}.") from None
        except ArtifactStoreError as exc:
            raise ArtifactStoreError(
                f"Cannot run a pipeline here: experiment {experiment_id!r} keeps its artifacts in a store "
                f"{where} does not proxy, and {exc}", url=self.transport.base_url) from None

    def _store_error(self, exc: ServiceError, run_id: str, path: str,
                     artifact_uri: str = "") -> ServiceError:
        """A 500 from an artifact endpoint is the server failing to read its artifact store: say so,
        in the server's words; anything else (a proxy's 502, a refused login) stays as it was."""
        if exc.status_code != 500 or isinstance(exc, ArtifactStoreError):
            return exc
        store = f" ({artifact_uri})" if artifact_uri else ""
        said = exc.server_message or "no reason given"
        error = ArtifactStoreError(
            f"The tracking server at {self.transport.display_url} could not read the artifact "
            f"store of run {run_id!r}{store} for {path or 'its artifact list'!r}: HTTP 500: {said}",
            url=exc.url, status_code=exc.status_code, error_code=exc.error_code)
        error.server_message = exc.server_message
        return error

    def walk_artifacts(self, run_id: str, path: str) -> list[FileInfo]:
        """Every file (not folder) under ``path``, recursively."""
        files: list[FileInfo] = []
        pending = [path]
        while pending:
            for entry in self.list_artifacts(run_id, pending.pop()):
                (pending.append(entry.path) if entry.is_dir else files.append(entry))
        return sorted(files, key=lambda f: f.path)

    # --- MLflow 3 logged models -------------------------------------------------------------------
    def get_logged_model(self, model_id: str) -> dict:
        """The ``info`` of an MLflow 3 logged model (name, artifact_uri, source_run_id...)."""
        body = self.transport.get_json(f"{API}/logged-models/{quote(model_id, safe='')}")
        info = (body.get("model") or {}).get("info")
        if not isinstance(info, dict):
            raise ServiceError(f"Malformed answer for logged model {model_id!r} from "
                               f"{self.transport.display_url}", url=self.transport.base_url)
        return info

    def walk_logged_model(self, model_id: str) -> list[FileInfo]:
        """Every file of a logged model, paths relative to the model's root."""
        files: list[FileInfo] = []
        pending = [""]
        while pending:
            path = pending.pop()
            params = {"artifact_directory_path": path} if path else {}
            body = self.transport.get_json(
                f"{API}/logged-models/{quote(model_id, safe='')}/artifacts/directories", params)
            for f in body.get("files", []):
                if not isinstance(f, dict) or not f.get("path"):
                    continue
                full = f["path"] if not path or f["path"].startswith(f"{path}/") else f"{path}/{f['path']}"
                check_artifact_path(full)
                if f.get("is_dir"):
                    pending.append(full)
                else:
                    files.append(FileInfo(full, False, _int_or_none(f.get("file_size"))))
        return sorted(files, key=lambda f: f.path)

    @contextmanager
    def open_logged_model_file(self, model_id: str, path: str) -> Iterator[requests.Response]:
        """A streamed download of one file of a logged model."""
        check_artifact_path(path)
        response = self.transport.request(
            "GET", f"/ajax-api/2.0/mlflow/logged-models/{quote(model_id, safe='')}/artifacts/files",
            params={"artifact_file_path": path}, stream=True)
        try:
            yield response
        finally:
            response.close()

    def artifact_request(self, run: RunRecord, path: str) -> tuple[str, dict[str, str]]:
        """Endpoint path and query for downloading one artifact of a run.

        Servers that proxy artifacts (``mlflow-artifacts:`` URIs) serve the file itself, which
        answers Range requests at the cost of the range; others go through ``/get-artifact``.
        """
        check_artifact_path(path)
        uri = run.artifact_uri
        if uri.startswith("mlflow-artifacts:"):
            rest = uri[len("mlflow-artifacts:"):]
            if rest.startswith("//"):  # mlflow-artifacts://host:port/path
                rest = "/" + rest[2:].partition("/")[2]
            return f"{ARTIFACTS_API}/{quote(rest.strip('/'))}/{quote(path)}", {}
        return "/get-artifact", {"path": path, "run_id": run.run_id}

    def read_range(self, run: RunRecord, path: str, start: int,
                   length: int | None = None) -> tuple[bytes, int | None] | None:
        """Bytes of an artifact from ``start`` (at most ``length``) and the file's total size.

        Returns None when the artifact does not exist (yet), and ``(b"", size)`` when ``start``
        is at or past the end (the size then tells whether the file shrank).
        """
        store = self.direct_store(run)
        if store is not None:
            return store.read_range(check_artifact_path(path), start, length)
        endpoint, params = self.artifact_request(run, path)
        end = "" if length is None else str(start + length - 1)
        try:
            response = self.transport.request("GET", endpoint, params=params,
                                              headers={"Range": f"bytes={start}-{end}"},
                                              ok_statuses=(416,))
        except ServiceError as exc:
            if is_missing_artifact(exc):
                return None
            raise self._store_error(exc, run.run_id, path, run.artifact_uri) from None
        if response.status_code == 416:
            return b"", _total_from_content_range(response.headers.get("Content-Range"))
        if response.status_code == 206:
            return response.content, _total_from_content_range(response.headers.get("Content-Range"))
        # A server that ignores Range sends everything: keep only what was asked for.
        body = response.content
        return body[start:None if length is None else start + length], len(body)

    def read_tail(self, run: RunRecord, path: str, nbytes: int) -> bytes:
        """The last ``nbytes`` of an artifact (a suffix Range request); b"" when it is missing."""
        store = self.direct_store(run)
        if store is not None:
            return store.read_tail(check_artifact_path(path), nbytes)
        endpoint, params = self.artifact_request(run, path)
        try:
            response = self.transport.request("GET", endpoint, params=params,
                                              headers={"Range": f"bytes=-{nbytes}"}, ok_statuses=(416,))
        except ServiceError as exc:
            if is_missing_artifact(exc):
                return b""
            raise self._store_error(exc, run.run_id, path, run.artifact_uri) from None
        if response.status_code == 416:
            return b""
        return response.content[-nbytes:]

    @contextmanager
    def open_artifact(self, run: RunRecord, path: str) -> Iterator[requests.Response]:
        """A streamed download of one artifact; read it with ``iter_content``."""
        store = self.direct_store(run)
        if store is not None:
            with store.open(check_artifact_path(path)) as chunks:
                yield chunks
            return
        endpoint, params = self.artifact_request(run, path)
        try:
            response = self.transport.request("GET", endpoint, params=params, stream=True)
        except ServiceError as exc:
            raise self._store_error(exc, run.run_id, path, run.artifact_uri) from None
        try:
            yield response
        finally:
            response.close()

    def upload_artifact(self, run: RunRecord, path: str, data: bytes | IO[bytes]) -> None:
        """Upload one file (bytes or a binary file object, streamed) to a run's artifacts: through
        the server when it proxies them, else straight into the run's store (as MLflow's clients do)."""
        uri = run.artifact_uri
        if not uri.startswith("mlflow-artifacts:"):
            store = self.direct_store(run)
            if store is None:
                raise ArtifactStoreError(
                    f"The server at {self.transport.display_url} does not proxy artifacts for run "
                    f"{run.run_id!r} and this machine cannot reach its store ({uri}); start the "
                    "server with --serve-artifacts", url=self.transport.base_url)
            store.upload(check_artifact_path(path), data)
            return
        endpoint, _ = self.artifact_request(run, path)
        self.transport.request("PUT", endpoint, data=data,
                               headers={"Content-Type": "application/octet-stream"})


def is_missing_artifact(exc: ServiceError) -> bool:
    """True when an artifact endpoint answered "no such artifact" (3.x: 404; 2.x: 500 with
    ``No such file or directory``; a server proxying an object store: 500 with the store's "not
    found", such as S3's ``NoSuchKey``): an absent log or output, not an outage."""
    if isinstance(exc, ArtifactStoreError):
        return False
    if exc.error_code in _NOT_FOUND or (exc.status_code == 404 and exc.error_code):
        return True
    if exc.status_code == 404:  # a bare 404: MLflow's JSON 404 always carries an error code
        return exc.url is not None and ARTIFACTS_API in exc.url
    return exc.status_code == 500 and any(s in exc.server_message for s in _NO_SUCH_FILE)


def check_artifact_path(path: str) -> str:
    """Refuse an artifact path that is absolute or holds ``.``/``..``/empty parts or a NUL.

    urllib3 resolves dot segments in a URL before sending it, so ``outputs/o/../x`` would silently
    read or write ``outputs/x`` (or another run's artifacts) instead of being refused by the server.
    """
    parts = path.split("/") if isinstance(path, str) else [""]
    if any(part in ("", ".", "..") for part in parts) or "\x00" in path:
        raise StepRunError(f"Artifact path {path!r} is not a plain relative path (absolute, empty, "
                           "'.' or '..' parts); refusing to use it")
    return path


def _total_from_content_range(value: str | None) -> int | None:
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None
