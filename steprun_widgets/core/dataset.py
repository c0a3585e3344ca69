"""Azure ML v1's datasets on an MLflow tracking server: ``Dataset``, ``FileDataset``, ``TabularDataset``.

A dataset is a *definition*: where its files are (local paths, datastore paths, http(s) URLs, a
step run's output), how a tabular one parses them (delimited or parquet) and the transforms taken
on it (``take``, ``skip``, ``keep_columns``, ``drop_columns``). It is plain JSON, so it travels to
a step in the pipeline's plan and is stored as a tag when registered.

Registered datasets are runs of the experiment ``steprun.datasets`` (``layout.DATASET_EXPERIMENT``),
one per name and version, tagged with the name, the version and the definition: every client of the
tracking server lists them (``Dataset.get_all(ws)``, MLflow's own UI and ``runs/search``). Local
files of a registered dataset (or of a step input) are first uploaded to the default datastore, so
the definition never names a folder of one machine.

Reading a tabular dataset needs pandas (and pyarrow for parquet): the ``data`` extra.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import requests

from steprun_widgets.core import layout
from steprun_widgets.core.datastore import (
    DataPath,
    DataReference,
    Datastore,
    clean_path,
    datastore_run,
    download_files,
    select_files,
)
from steprun_widgets.core.rest import MlflowRest
from steprun_widgets.core.v1_names import V1Members
from steprun_widgets.errors import StepRunError

if TYPE_CHECKING:
    from steprun_widgets.core.workspace import Workspace

GUIDE = "docs/migration-from-azureml-v1.md#datastores-and-datasets"
DATA_EXTRA = "pip install 'steprun-widgets[data]'"
#: How long an http(s) source may take to answer (connect, read) in seconds.
URL_TIMEOUT = (10.0, 60.0)


class DatasetError(StepRunError):
    """A dataset cannot be defined, registered, found or read as asked."""


def _pandas():
    try:
        import pandas
    except ImportError:
        raise DatasetError(f"Reading a TabularDataset needs pandas: {DATA_EXTRA}") from None
    return pandas


# --- sources ----------------------------------------------------------------------------------------
def _source(path: Any) -> dict:
    """One source of a dataset from what v1 accepts: a local path, an http(s) URL, a DataPath or
    DataReference, a ``(datastore, path)`` tuple."""
    if isinstance(path, tuple) and len(path) == 2 and isinstance(path[0], Datastore):
        return {"datastore": path[0].name, "path": clean_path(path[1])}
    if isinstance(path, (DataPath, DataReference)):
        return {"datastore": path.datastore.name, "path": path.path_on_datastore or ""}
    if isinstance(path, (str, os.PathLike)):
        text = str(path)
        scheme = urlparse(text).scheme.lower()
        if scheme in ("http", "https"):
            return {"url": text}
        if scheme in ("azureml", "wasbs", "wasb", "abfss", "adl", "s3", "gs"):
            raise DatasetError(f"Dataset path {text!r}: {scheme}:// paths do not map; upload the data to a "
                               f"datastore (ds.upload) and pass (datastore, 'path') (see {GUIDE})")
        return {"local": str(Path(text).expanduser().resolve())}
    raise DatasetError(f"Dataset path {path!r} ({type(path).__name__}) is not a local path, URL, "
                       "DataPath or (datastore, path) tuple")


def _sources(path: Any) -> list[dict]:
    items = path if isinstance(path, list) else [path]
    if not items:
        raise DatasetError("A dataset needs at least one path")
    return [_source(p) for p in items]


def describe_source(source: dict) -> str:
    """A source as one line of text (a URI) for messages and MLflow's dataset inputs."""
    if "url" in source:
        return source["url"]
    if "local" in source:
        return Path(source["local"]).as_uri()
    if "datastore" in source:
        return f"datastore://{source['datastore']}/{source.get('path', '')}"
    if "run_id" in source:
        return f"runs:/{source['run_id']}/{source.get('path', '')}"
    return json.dumps(source, sort_keys=True)


def _local_files(path: str) -> tuple[list[Path], Path]:
    """The files of a local source (a file, a folder, a glob) and the folder they are relative to."""
    if any(c in path for c in "*?["):
        base = Path(path)
        while any(c in base.name for c in "*?[") or any(c in str(base) for c in "*?["):
            base = base.parent
        files = sorted(Path(p) for p in glob.glob(path, recursive=True) if Path(p).is_file())
        return files, base
    p = Path(path)
    if p.is_file():
        return [p], p.parent
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file()), p
    raise DatasetError(f"Dataset path {path!r} does not exist")


def _fetch_url(url: str, dest: Path) -> Path:
    name = unquote(PurePosixPath(urlparse(url).path).name) or "download"
    target = dest / clean_path(name, "URL file name")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with requests.get(url, stream=True, timeout=URL_TIMEOUT) as response:
            if response.status_code >= 400:
                raise DatasetError(f"Dataset URL {url!r} answered HTTP {response.status_code}")
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=dest)
            with os.fdopen(fd, "wb") as f:
                for chunk in response.iter_content(1 << 20):
                    f.write(chunk)
            os.replace(tmp, target)
    except requests.exceptions.RequestException as exc:
        raise DatasetError(f"Dataset URL {url!r} could not be read: {type(exc).__name__}: {exc}") from None
    return target


def fetch_source(rest: MlflowRest | None, source: dict, dest: Path) -> list[Path]:
    """Put a source's files under ``dest`` (at their paths relative to the source's folder)."""
    if "url" in source:
        return [_fetch_url(source["url"], dest)]
    if "local" in source:
        files, base = _local_files(source["local"])
        copied = []
        for f in files:
            target = dest / f.relative_to(base)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
            copied.append(target)
        return copied
    if rest is None:
        raise DatasetError(f"Dataset source {describe_source(source)} needs a workspace to be read")
    run = rest.get_run(source["run_id"]) if "run_id" in source else datastore_run(rest, source["datastore"])
    files, base = select_files(rest, run.run_id, source.get("path", ""))
    if not files:
        raise DatasetError(f"Dataset source {describe_source(source)} holds no file")
    return download_files(rest, run, files, base, dest, label=f"Dataset source {describe_source(source)}")


def source_files(rest: MlflowRest | None, sources: list[dict], dest: Path) -> list[Path]:
    """Every file of ``sources`` on local disk: local ones where they are, others fetched into ``dest``."""
    found: list[Path] = []
    for i, source in enumerate(sources):
        if "local" in source:
            found.extend(_local_files(source["local"])[0])
        else:
            found.extend(fetch_source(rest, source, dest / str(i)))
    return found


def upload_local(workspace: Workspace, source: dict) -> dict:
    """A local source uploaded to the default datastore (under a digest of its content, once), as a
    datastore source every machine reaches through the tracking server."""
    files, base = _local_files(source["local"])
    if not files:
        raise DatasetError(f"Dataset path {source['local']!r} holds no file")
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(base).as_posix().encode() + b"\0")
        with open(f, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    folder = f"{layout.DATASET_UPLOADS_DIR}/{digest.hexdigest()[:16]}"
    store = Datastore.get_default(workspace)
    store.upload_files(files, relative_root=base, target_path=folder, overwrite=False, show_progress=False)
    single = Path(source["local"]).is_file()
    path = f"{folder}/{files[0].name}" if single else folder
    return {"datastore": store.name, "path": path}


def resolve_sources(workspace: Workspace, sources: list[dict]) -> list[dict]:
    """Sources every machine reaches: local ones uploaded, datastore ones with their run id."""
    resolved = []
    for source in sources:
        if "local" in source:
            source = upload_local(workspace, source)
        if "datastore" in source and "run_id" not in source:
            source = {**source, "run_id": datastore_run(workspace.rest, source["datastore"]).run_id}
        resolved.append(source)
    return resolved


def definition_digest(definition: dict, extra: Any = None) -> str:
    """A short content-independent digest of a definition (MLflow's dataset ``digest``)."""
    body = json.dumps({"definition": definition, "extra": extra}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


# --- datasets ---------------------------------------------------------------------------------------
class AbstractDataset(metaclass=V1Members):
    """What FileDataset and TabularDataset share: a definition, and a name/version once registered."""

    kind = ""

    def __init__(self, definition: dict, workspace: Workspace | None = None, *, name: str | None = None,
                 version: int | None = None, description: str | None = None,
                 tags: dict[str, str] | None = None, run_id: str | None = None) -> None:
        self._definition = definition
        self._workspace = workspace
        self.name = name
        self.version = version
        self.description = description
        self.tags = dict(tags or {})
        #: The run of ``steprun.datasets`` that registers this dataset (None when unregistered).
        self.id = run_id

    @property
    def definition(self) -> dict:
        return json.loads(json.dumps(self._definition))

    def _derive(self, transform: list) -> AbstractDataset:
        definition = self.definition
        definition["transforms"] = [*definition.get("transforms", []), transform]
        return type(self)(definition, self._workspace)

    def take(self, count: int) -> AbstractDataset:
        """The first ``count`` records (rows, or files of a FileDataset)."""
        return self._derive(["take", _count("take", count)])

    def skip(self, count: int) -> AbstractDataset:
        """All but the first ``count`` records."""
        return self._derive(["skip", _count("skip", count)])

    # --- use in a step ------------------------------------------------------------------------
    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        """This dataset as the step input ``name`` (``Run.get_context().input_datasets[name]``)."""
        return DatasetConsumptionConfig(name, self)

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self._default_input_name(), self).as_mount(path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self._default_input_name(), self).as_download(path_on_compute)

    def _default_input_name(self) -> str:
        return self.name or f"dataset_{definition_digest(self._definition)[:8]}"

    # --- files --------------------------------------------------------------------------------
    def _rest(self) -> MlflowRest | None:
        return self._workspace.rest if self._workspace is not None else None

    def _files(self, dest: Path) -> list[Path]:
        files = source_files(self._rest(), self._definition["sources"], dest)
        if self.kind == "file":
            for op, arg in self._definition.get("transforms", []):
                files = files[:arg] if op == "take" else files[arg:] if op == "skip" else files
        return files

    # --- registration -------------------------------------------------------------------------
    def register(self, workspace: Workspace, name: str, description: str | None = None,
                 tags: dict[str, str] | None = None, create_new_version: bool = False) -> AbstractDataset:
        """Register this definition as ``name`` (version 1, or the next with ``create_new_version``);
        its local files go to the default datastore first."""
        definition = self.definition
        definition["sources"] = [{k: v for k, v in s.items() if k != "run_id" or "datastore" not in s}
                                 for s in resolve_sources(workspace, definition["sources"])]
        return register_definition(workspace.rest, definition, name, description, tags, create_new_version,
                                   workspace)

    def __repr__(self) -> str:
        named = f"name={self.name!r}, version={self.version}, " if self.name else ""
        sources = [describe_source(s) for s in self._definition["sources"]]
        return f"{type(self).__name__}({named}sources={sources})"


def _count(op: str, count: Any) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise DatasetError(f"{op}({count!r}): give a whole number >= 0")
    return count


class FileDataset(AbstractDataset):
    """Files (v1's ``FileDataset``): ``download()``, ``to_path()``, or a step's folder."""

    kind = "file"

    def download(self, target_path: str | os.PathLike | None = None, overwrite: bool = False) -> list[str]:
        """Copy the files into ``target_path`` (a new temp folder when None); returns their paths."""
        dest = Path(target_path) if target_path is not None else Path(tempfile.mkdtemp(prefix="dataset-"))
        with tempfile.TemporaryDirectory(prefix=".dataset-", dir=dest.parent if dest.parent.exists() else None
                                         ) as scratch:
            files = self._files(Path(scratch))
            roots = [Path(scratch)] + [Path(_local_files(s["local"])[1]) for s in
                                       self._definition["sources"] if "local" in s]
            copied = []
            for f in files:
                root = next((r for r in roots if f.is_relative_to(r)), f.parent)
                rel = f.relative_to(root)
                if rel.parts and rel.parts[0].isdigit() and root == Path(scratch):
                    rel = Path(*rel.parts[1:])
                target = dest / rel
                if target.exists() and not overwrite:
                    raise DatasetError(f"FileDataset.download: {str(target)!r} already exists; pass "
                                       "overwrite=True to replace it")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, target)
                copied.append(str(target))
        return copied

    def to_path(self) -> list[str]:
        """The files' paths relative to their source folders."""
        with tempfile.TemporaryDirectory() as scratch:
            dest = Path(scratch) / "d"
            return [f"/{Path(x).relative_to(dest).as_posix()}" for x in self.download(dest)]


class TabularDataset(AbstractDataset):
    """Rows parsed from delimited or parquet files (v1's ``TabularDataset``)."""

    kind = "tabular"

    def keep_columns(self, columns: str | Sequence[str], validate: bool = False) -> TabularDataset:
        return self._derive(["keep_columns", [columns] if isinstance(columns, str) else list(columns)])

    def drop_columns(self, columns: str | Sequence[str]) -> TabularDataset:
        return self._derive(["drop_columns", [columns] if isinstance(columns, str) else list(columns)])

    def to_pandas_dataframe(self, on_error: str = "null", out_of_range_datetime: str = "null"):
        """The rows as a pandas DataFrame (needs the ``data`` extra)."""
        pandas = _pandas()
        fmt = self._definition.get("format") or {"type": "delimited"}
        with tempfile.TemporaryDirectory(prefix="dataset-") as scratch:
            frames = [_read(pandas, f, fmt) for f in self._files(Path(scratch))]
        frame = pandas.concat(frames, ignore_index=True) if frames else pandas.DataFrame()
        for op, arg in self._definition.get("transforms", []):
            if op == "take":
                frame = frame.head(arg)
            elif op == "skip":
                frame = frame.iloc[arg:]
            elif op == "keep_columns":
                missing = [c for c in arg if c not in frame.columns]
                if missing:
                    raise DatasetError(f"keep_columns: no column {missing[0]!r} "
                                       f"(columns: {list(frame.columns)})")
                frame = frame[arg]
            elif op == "drop_columns":
                frame = frame.drop(columns=[c for c in arg if c in frame.columns])
        return frame.reset_index(drop=True)


def _read(pandas, path: Path, fmt: dict):
    if fmt.get("type") == "parquet":
        try:
            return pandas.read_parquet(path)
        except ImportError:
            raise DatasetError(f"Reading parquet files needs pyarrow: {DATA_EXTRA}") from None
    header = fmt.get("header", True)
    return pandas.read_csv(path, sep=fmt.get("separator", ","), header=0 if header else None,
                           encoding=fmt.get("encoding") or "utf-8")


def make_dataset(definition: dict, workspace: Workspace | None = None, **kwargs: Any) -> AbstractDataset:
    cls = TabularDataset if definition.get("kind") == "tabular" else FileDataset
    return cls(definition, workspace, **kwargs)


# --- the Dataset factories ------------------------------------------------------------------------
def _workspace_of(path: Any) -> Workspace | None:
    for item in path if isinstance(path, list) else [path]:
        store = item[0] if isinstance(item, tuple) and item else getattr(item, "datastore", None)
        if isinstance(store, Datastore):
            return store.workspace
    return None


class _FileFactory:
    @staticmethod
    def from_files(path: Any, validate: bool = True, partition_format: str | None = None,
                   is_file: bool = False) -> FileDataset:
        """Files from local paths, datastore paths ((datastore, 'path') or DataPath) or http(s) URLs."""
        return FileDataset({"kind": "file", "sources": _sources(path)}, _workspace_of(path))

    @staticmethod
    def upload_directory(src_dir: str | os.PathLike, target: Any, pattern: str | None = None,
                         overwrite: bool = False, show_progress: bool = True) -> FileDataset:
        """Upload the files of ``src_dir`` (those matching ``pattern``, a glob) to ``target``, a
        ``(datastore, 'path')`` tuple or a DataPath, and return the FileDataset of that path."""
        if isinstance(target, DataPath):
            target = (target.datastore, target.path_on_datastore or "")
        if not (isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], Datastore)):
            raise DatasetError(f"upload_directory: target must be (datastore, 'path') or a DataPath, got "
                               f"{target!r}")
        src = Path(src_dir)
        if not src.is_dir():
            raise DatasetError(f"upload_directory: {str(src_dir)!r} is not a folder")
        files = sorted(p for p in src.rglob("*") if p.is_file()
                       and (pattern is None or p.match(pattern)))
        store, path = target
        store.upload_files(files, relative_root=src, target_path=path, overwrite=overwrite,
                           show_progress=show_progress)
        return _FileFactory.from_files((store, clean_path(path)))


class _TabularFactory:
    @staticmethod
    def from_delimited_files(path: Any, validate: bool = True, include_path: bool = False,
                             infer_column_types: bool = True, set_column_types: Any = None,
                             separator: str = ",", header: Any = True, partition_format: str | None = None,
                             support_multi_line: bool = False, empty_as_string: bool = False,
                             encoding: str = "utf8") -> TabularDataset:
        """Rows of delimited (CSV) files; ``header`` True/'all_files_same_headers' or False/'no_header'."""
        has_header = header not in (False, "no_header", "NO_HEADER")
        fmt = {"type": "delimited", "separator": separator, "header": has_header,
               "encoding": "utf-8" if encoding in ("utf8", "utf-8") else encoding}
        return TabularDataset({"kind": "tabular", "sources": _sources(path), "format": fmt},
                              _workspace_of(path))

    @staticmethod
    def from_parquet_files(path: Any, validate: bool = True, include_path: bool = False,
                           set_column_types: Any = None, partition_format: str | None = None
                           ) -> TabularDataset:
        return TabularDataset({"kind": "tabular", "sources": _sources(path), "format": {"type": "parquet"}},
                              _workspace_of(path))


class Dataset(metaclass=V1Members):
    """v1's ``Dataset``: ``Dataset.File``/``Dataset.Tabular`` create datasets, ``get_by_name`` finds
    registered ones."""

    File = _FileFactory
    Tabular = _TabularFactory

    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: int | str = "latest") -> AbstractDataset:
        """The registered dataset ``name`` (its latest version, or ``version``)."""
        return get_registered(workspace, name, version)

    @staticmethod
    def get_all(workspace: Workspace) -> dict[str, AbstractDataset]:
        """Name -> latest version of every registered dataset of the workspace."""
        found: dict[str, AbstractDataset] = {}
        for ds in _registrations(workspace.rest, None, workspace):
            if ds.name not in found or ds.version > found[ds.name].version:
                found[ds.name] = ds
        return found


# --- registration -------------------------------------------------------------------------------
def _registrations(rest: MlflowRest, name: str | None, workspace: Workspace | None) -> list[AbstractDataset]:
    experiment = rest.get_experiment_by_name(layout.DATASET_EXPERIMENT)
    if experiment is None:
        return []
    query = f"tags.`{layout.TAG_DATASET_NAME}` = '{name}'" if name else \
        f"tags.`{layout.TAG_DATASET_NAME}` != ''"
    found = []
    for record in rest.search_runs([str(experiment["experiment_id"])], query):
        try:
            definition = json.loads(record.tags[layout.TAG_DATASET_DEFINITION])
            version = int(record.tags[layout.TAG_DATASET_VERSION])
        except (KeyError, ValueError):
            continue
        tags = {k: v for k, v in record.tags.items() if not k.startswith(layout.RESERVED_TAG_PREFIXES)}
        found.append(make_dataset(definition, workspace, name=record.tags[layout.TAG_DATASET_NAME],
                                  version=version, description=record.tags.get(layout.TAG_DESCRIPTION),
                                  tags=tags, run_id=record.run_id))
    return found


def get_registered(workspace: Workspace, name: str, version: int | str = "latest") -> AbstractDataset:
    versions = sorted(_registrations(workspace.rest, name, workspace), key=lambda d: d.version)
    if not versions:
        raise DatasetError(f"No dataset named {name!r} is registered on "
                           f"{workspace.rest.transport.display_url}")
    if version in ("latest", None):
        return versions[-1]
    chosen = [d for d in versions if str(d.version) == str(version)]
    if not chosen:
        raise DatasetError(f"Dataset {name!r} has no version {version!r} (versions: "
                           f"{', '.join(str(d.version) for d in versions)})")
    return chosen[0]


def register_definition(rest: MlflowRest, definition: dict, name: str, description: str | None = None,
                        tags: dict[str, str] | None = None, create_new_version: bool = False,
                        workspace: Workspace | None = None) -> AbstractDataset:
    """Record a (portable) definition as dataset ``name``; the same definition again is the same version."""
    if not isinstance(name, str) or not name.strip() or "'" in name:
        raise DatasetError(f"Dataset name {name!r} is not valid")
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    if len(text) > 5000:
        raise DatasetError(f"Dataset {name!r}: its definition is {len(text)} characters, over the 5,000 a "
                           "tag holds; use fewer paths (a folder or a glob)")
    versions = sorted(_registrations(rest, name, workspace), key=lambda d: d.version)
    if versions:
        latest = versions[-1]
        if json.dumps(latest._definition, sort_keys=True, separators=(",", ":")) == text:
            return latest
        if not create_new_version:
            raise DatasetError(f"Dataset {name!r} is already registered (version {latest.version}) with "
                               "another definition: pass create_new_version=True")
    version = versions[-1].version + 1 if versions else 1
    all_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    all_tags.update({layout.TAG_DATASET_NAME: name, layout.TAG_DATASET_VERSION: str(version),
                     layout.TAG_DATASET_DEFINITION: text})
    if description:
        all_tags[layout.TAG_DESCRIPTION] = description
    experiment_id = rest.get_or_create_experiment(layout.DATASET_EXPERIMENT)
    record = rest.create_run(experiment_id, name=f"{name}:{version}", tags=all_tags)
    rest.update_run(record.run_id, "FINISHED", record.start_time)
    with_source = [{"dataset": mlflow_dataset(name, definition), "tags": []}]
    with contextlib.suppress(StepRunError):  # a server without dataset inputs: the tags hold everything
        rest.log_inputs(record.run_id, with_source)
    return make_dataset(definition, workspace, name=name, version=version, description=description,
                        tags=tags, run_id=record.run_id)


def mlflow_dataset(name: str, definition: dict, extra: Any = None) -> dict:
    """The dataset as MLflow's ``runs/log-inputs`` takes it (name, digest, source)."""
    sources = [describe_source(s) for s in definition.get("sources", [])]
    first = definition.get("sources", [{}])[0] if definition.get("sources") else {}
    source_type = "http" if "url" in first else "local" if "local" in first else "steprun"
    return {"name": name, "digest": definition_digest(definition, extra), "source_type": source_type,
            "source": json.dumps({"uri": sources[0] if len(sources) == 1 else sources,
                                  "kind": definition.get("kind", "file")})}


# --- consumption in a step --------------------------------------------------------------------------
class DatasetConsumptionConfig(metaclass=V1Members):
    """A dataset as a named step input (v1's ``DatasetConsumptionConfig``): ``mode`` "direct" (the
    step gets a TabularDataset/FileDataset object), "mount" or "download" (a local folder)."""

    def __init__(self, name: str, dataset: Any, mode: str = "direct",
                 path_on_compute: str | None = None) -> None:
        if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-." for c in name):
            raise DatasetError(f"Dataset input name {name!r} is not valid: letters, digits, '_', '-', '.'")
        self.name = name
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    @property
    def input_name(self) -> str:
        return self.name

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "download", path_on_compute)

    def step_input(self, workspace: Workspace | None = None) -> dict:
        """What the runner needs to give a step this dataset (local files uploaded first)."""
        ds = self.dataset
        workspace = ds._workspace or workspace
        definition = ds.definition
        if workspace is not None:
            definition["sources"] = resolve_sources(workspace, definition["sources"])
        elif any("local" in s or "datastore" in s for s in definition["sources"]):
            raise DatasetError(f"Dataset input {self.name!r}: it needs its workspace (Datastore) to reach "
                               "the tracking server")
        return {"name": self.name, "mode": self.mode, "kind": ds.kind, "sources": definition["sources"],
                "definition": definition, "registered": ds.name, "version": ds.version}

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r}, dataset={self.dataset!r})"


def consumption(item: Any) -> DatasetConsumptionConfig | None:
    """A step input that is a dataset, as a DatasetConsumptionConfig (None for anything else)."""
    if isinstance(item, DatasetConsumptionConfig):
        return item
    if isinstance(item, AbstractDataset):
        return DatasetConsumptionConfig(item._default_input_name(), item)
    return None


def local_dataset(entry: Iterable | dict, folder: str) -> AbstractDataset:
    """In a step: the dataset of an input entry, read from the local ``folder`` the runner filled."""
    definition = dict(entry["definition"])
    definition["sources"] = [{"local": folder}]
    return make_dataset(definition, None, name=entry.get("registered"), version=entry.get("version"))
