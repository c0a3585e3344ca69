"""Azure ML v1's datastores on an MLflow tracking server: ``Datastore``, ``DataReference``, ``DataPath``.

A datastore is a run of the experiment ``steprun.datastores`` (``layout.DATASTORE_EXPERIMENT``)
whose artifacts are the datastore's files. The tracking server's artifact store, not a folder of
this machine, so every client of the server and every step (on this machine or on a Dask worker)
reads and writes the same files through the server's REST API, with the server's access rules.
``workspaceblobstore`` (the default) and ``workspacefilestore`` exist on every workspace; Azure
storage registrations (``register_azure_blob_container``...) have no counterpart and are refused.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import requests

from steprun_widgets.core import layout
from steprun_widgets.core.outputs import CHUNK, _progress, write_atomically
from steprun_widgets.core.rest import FileInfo, MlflowRest, RunRecord
from steprun_widgets.core.transport import _reason
from steprun_widgets.core.v1_names import V1Members
from steprun_widgets.errors import ServiceError, StepRunError

if TYPE_CHECKING:
    from steprun_widgets.core.workspace import Workspace

GUIDE = "docs/migration-from-azureml-v1.md#datastores-and-datasets"
#: ``str(data_reference)`` in v1: the runner puts the input's local path in its place.
DATA_REFERENCE_PREFIX = "$AZUREML_DATAREFERENCE_"


class DatastoreError(StepRunError):
    """A datastore, or a path in it, cannot be used as asked."""


def _refused(kind: str):
    def register(*args: Any, **kwargs: Any):
        raise DatastoreError(
            f"Datastore.{kind}(...) is not supported: datastores here are the tracking server's "
            f"artifact store. Use Datastore.get(ws, '{layout.DEFAULT_DATASTORE}') (or "
            f"ws.get_default_datastore()) and upload the data into it with datastore.upload(...), "
            f"or read a public URL with Dataset.File.from_files / Dataset.Tabular (see {GUIDE})")
    register.__name__ = kind
    return staticmethod(register)


def clean_path(path: str | os.PathLike | None, what: str = "Datastore path") -> str:
    """A datastore path as artifact paths are: '/'-separated, relative, no '.'/'..' parts."""
    text = "" if path is None else str(path).replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts or "\x00" in text:
        raise DatastoreError(f"{what} {str(path)!r} leaves the datastore ('..' parts)")
    return "/".join(parts)


def datastore_run(rest: MlflowRest, name: str) -> RunRecord:
    """The run that holds datastore ``name``'s files (created on first use for a built-in one).

    Two clients creating it at the same moment make two runs; the oldest is the datastore.
    """
    experiment_id = rest.get_or_create_experiment(layout.DATASTORE_EXPERIMENT)
    query = f"tags.`{layout.TAG_DATASTORE}` = '{name}'"
    found = rest.search_runs([experiment_id], query, order_by=["attributes.start_time ASC"], max_results=1)
    if found:
        return found[0]
    if name not in layout.BUILTIN_DATASTORES:
        raise DatastoreError(
            f"Datastore {name!r} is not registered on {rest.transport.display_url}: the datastores "
            f"here are {', '.join(repr(n) for n in layout.BUILTIN_DATASTORES)} (see {GUIDE})")
    record = rest.create_run(experiment_id, name=name, tags={layout.TAG_DATASTORE: name})
    rest.update_run(record.run_id, "FINISHED", record.start_time)
    found = rest.search_runs([experiment_id], query, order_by=["attributes.start_time ASC"], max_results=1)
    return found[0] if found else record


def _has_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def select_files(rest: MlflowRest, run_id: str, path: str) -> tuple[list[FileInfo], str]:
    """The files a datastore path names and the folder their local paths are relative to.

    ``path`` is a file, a folder (every file under it) or a glob (``data/*.csv``, ``data/**``).
    """
    path = clean_path(path)
    if _has_glob(path):
        parts = path.split("/")
        fixed = []
        for part in parts:
            if _has_glob(part):
                break
            fixed.append(part)
        base = "/".join(fixed)
        pattern = path[:-3] + "*" if path.endswith("/**") else path
        files = [f for f in rest.walk_artifacts(run_id, base) if fnmatch.fnmatchcase(f.path, pattern)]
        return files, base
    files = rest.walk_artifacts(run_id, path)
    if files:
        return files, path
    parent = str(PurePosixPath(path).parent) if "/" in path else ""
    single = [f for f in rest.list_artifacts(run_id, parent) if f.path == path and not f.is_dir]
    return single, parent


def download_files(rest: MlflowRest, run: RunRecord, files: list[FileInfo], base: str, dest: Path,
                   *, overwrite: bool = True, show_progress: bool = False, label: str = "") -> list[Path]:
    """Stream ``files`` of a run into ``dest``, each at its path relative to ``base``."""
    dest = Path(dest)
    prefix = f"{base}/" if base else ""
    targets = []
    for info in files:
        rel = info.path[len(prefix):] if info.path.startswith(prefix) else PurePosixPath(info.path).name
        target = dest.joinpath(*clean_path(rel, "Datastore file").split("/"))
        if not target.resolve().is_relative_to(dest.resolve()):
            raise DatastoreError(f"{label or 'Datastore'}: {info.path!r} would land outside {str(dest)!r}")
        targets.append((target, info))
    if not overwrite:
        existing = [str(t) for t, _ in targets if t.exists()]
        if existing:
            raise DatastoreError(f"{label or 'Datastore'}: {existing[0]!r} already exists; pass "
                                 "overwrite=True to replace it")
    bar = _progress(show_progress, sum(f.file_size or 0 for f in files), label or "datastore")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for target, info in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            with rest.open_artifact(run, info.path) as response:
                try:
                    write_atomically(target, response.iter_content(CHUNK), bar.update if bar else None)
                except requests.exceptions.RequestException as exc:
                    raise ServiceError(f"{label or 'Datastore'}: the download of {info.path!r} broke "
                                       f"off: {_reason(exc)}", url=rest.transport.base_url) from None
    finally:
        if bar is not None:
            bar.close()
    return [t for t, _ in targets]


class Datastore(metaclass=V1Members):
    """A named store of files on the tracking server (v1's ``azureml.core.Datastore``).

    ``Datastore(ws, name)``, ``Datastore.get(ws, name)`` and ``ws.get_default_datastore()`` open
    one; ``upload``/``upload_files`` put files into it, ``download`` gets them back and ``path(...)``
    names a folder or file of it as a step input.
    """

    datastore_type = "MLflowArtifacts"

    def __init__(self, workspace: Workspace, name: str | None = None) -> None:
        self.workspace = workspace
        self.name = name or layout.DEFAULT_DATASTORE
        if not isinstance(self.name, str) or not self.name.replace("_", "").replace("-", "").isalnum():
            raise DatastoreError(f"Datastore name {name!r} is not valid: letters, digits, '_' and '-'")
        self._record = datastore_run(workspace.rest, self.name)

    @staticmethod
    def get(workspace: Workspace, datastore_name: str) -> Datastore:
        """The datastore ``datastore_name`` of the workspace."""
        return Datastore(workspace, datastore_name)

    @staticmethod
    def get_default(workspace: Workspace) -> Datastore:
        """The workspace's default datastore (``workspaceblobstore``)."""
        return Datastore(workspace, layout.DEFAULT_DATASTORE)

    register_azure_blob_container = _refused("register_azure_blob_container")
    register_azure_file_share = _refused("register_azure_file_share")
    register_azure_data_lake = _refused("register_azure_data_lake")
    register_azure_data_lake_gen2 = _refused("register_azure_data_lake_gen2")
    register_azure_sql_database = _refused("register_azure_sql_database")
    register_azure_postgre_sql = _refused("register_azure_postgre_sql")
    register_azure_my_sql = _refused("register_azure_my_sql")
    register_dbfs = _refused("register_dbfs")
    register_hdfs = _refused("register_hdfs")

    @property
    def run_id(self) -> str:
        """The run whose artifacts are this datastore's files."""
        return self._record.run_id

    # --- files ------------------------------------------------------------------------------------
    def upload(self, src_dir: str | os.PathLike, target_path: str | None = None, overwrite: bool = False,
               show_progress: bool = True) -> DataReference:
        """Upload every file under ``src_dir`` to ``target_path``; existing files are kept unless
        ``overwrite``. Returns the DataReference of ``target_path``."""
        src = Path(src_dir)
        if not src.is_dir():
            raise DatastoreError(f"Datastore {self.name!r}: upload source {str(src_dir)!r} is not a folder")
        files = sorted(p for p in src.rglob("*") if p.is_file())
        return self.upload_files(files, relative_root=src, target_path=target_path, overwrite=overwrite,
                                 show_progress=show_progress)

    def upload_files(self, files: Iterable[str | os.PathLike], relative_root: str | os.PathLike | None = None,
                     target_path: str | None = None, overwrite: bool = False,
                     show_progress: bool = True) -> DataReference:
        """Upload ``files`` to ``target_path``, each at its path relative to ``relative_root`` (or by
        its name without one); existing files are kept unless ``overwrite``."""
        target = clean_path(target_path, "target_path")
        rest = self.workspace.rest
        existing = {f.path for f in rest.walk_artifacts(self.run_id, target)} if not overwrite else set()
        plan = []
        for file in files:
            path = Path(file)
            if not path.is_file():
                raise DatastoreError(f"Datastore {self.name!r}: {str(file)!r} is not a file")
            if relative_root is not None:
                try:
                    rel = path.resolve().relative_to(Path(relative_root).resolve()).as_posix()
                except ValueError:
                    raise DatastoreError(f"Datastore {self.name!r}: {str(file)!r} is not under "
                                         f"relative_root {str(relative_root)!r}") from None
            else:
                rel = path.name
            dest = "/".join(p for p in (target, clean_path(rel)) if p)
            if dest not in existing:
                plan.append((path, dest))
        bar = _progress(show_progress and bool(plan), sum(p.stat().st_size for p, _ in plan),
                        f"{self.name}/{target}")
        try:
            for path, dest in plan:
                with open(path, "rb") as f:
                    rest.upload_artifact(self._record, dest, f)
                if bar is not None:
                    bar.update(path.stat().st_size)
        finally:
            if bar is not None:
                bar.close()
        return DataReference(self, path_on_datastore=target or None)

    def download(self, target_path: str | os.PathLike, prefix: str | None = None, overwrite: bool = False,
                 show_progress: bool = True) -> int:
        """Download the files under ``prefix`` (everything when None) into ``target_path``, at
        their datastore paths; returns how many files were downloaded."""
        rest = self.workspace.rest
        prefix_path = clean_path(prefix, "prefix")
        files = rest.walk_artifacts(self.run_id, prefix_path) if prefix_path else \
            rest.walk_artifacts(self.run_id, "")
        if prefix_path and not files:  # a prefix of file names (v1 matches on the string)
            parent = str(PurePosixPath(prefix_path).parent) if "/" in prefix_path else ""
            files = [f for f in rest.walk_artifacts(self.run_id, parent) if f.path.startswith(prefix_path)]
        if not overwrite:
            files = [f for f in files if not Path(target_path, *f.path.split("/")).exists()]
        download_files(rest, self._record, files, "", Path(target_path), show_progress=show_progress,
                       label=f"Datastore {self.name!r}")
        return len(files)

    # --- references -----------------------------------------------------------------------------
    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        """A reference to a folder or file of the datastore (a step input)."""
        return DataReference(self, data_reference_name=data_reference_name, path_on_datastore=path)

    def as_mount(self) -> DataReference:
        return DataReference(self, mode="mount")

    def as_download(self, path_on_compute: str | None = None) -> DataReference:
        return DataReference(self, mode="download", path_on_compute=path_on_compute)

    def __repr__(self) -> str:
        return f"Datastore(name={self.name!r}, type={self.datastore_type!r})"


_MODES = ("mount", "download")


def _input_name(name: str | None, fallback: str) -> str:
    import re

    text = name or fallback
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", text).strip(".") or "data"
    return safe[:100]


class DataReference(metaclass=V1Members):
    """A folder or file of a datastore, read by a step (v1's ``DataReference``).

    As a step input (``inputs=[ref]``, ``arguments=[ref]``) the runner downloads it into the step's
    folder before the script starts, and the script gets that local path ("mount" and "download"
    both give a local copy, read-only by convention). A file gives the file's path.
    """

    def __init__(self, datastore: Datastore, data_reference_name: str | None = None,
                 path_on_datastore: str | None = None, mode: str = "mount",
                 path_on_compute: str | None = None, overwrite: bool = False) -> None:
        if not isinstance(datastore, Datastore):
            raise DatastoreError(f"DataReference needs a Datastore, got {datastore!r}")
        if mode not in _MODES:
            raise DatastoreError(f"DataReference mode {mode!r} is not supported: use 'mount' or 'download' "
                                 "(an output is a PipelineData or OutputFileDatasetConfig)")
        self.datastore = datastore
        self.path_on_datastore = clean_path(path_on_datastore) or None
        self.data_reference_name = _input_name(
            data_reference_name, PurePosixPath(self.path_on_datastore or datastore.name).name)
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite

    @property
    def datastore_name(self) -> str:
        return self.datastore.name

    def as_mount(self) -> DataReference:
        return DataReference(self.datastore, self.data_reference_name, self.path_on_datastore, "mount")

    def as_download(self, path_on_compute: str | None = None, overwrite: bool = False) -> DataReference:
        return DataReference(self.datastore, self.data_reference_name, self.path_on_datastore, "download",
                             path_on_compute, overwrite)

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        joined = "/".join(p for p in (self.path_on_datastore, clean_path(path)) if p)
        return DataReference(self.datastore, data_reference_name, joined or None, self.mode)

    def step_input(self, workspace: Workspace | None = None) -> dict:
        """What the runner needs to give a step this data (see ``steprun_widgets.local.data``)."""
        return {"name": self.data_reference_name, "mode": self.mode, "kind": "reference",
                "sources": [{"datastore": self.datastore.name, "run_id": self.datastore.run_id,
                             "path": self.path_on_datastore or ""}]}

    def __str__(self) -> str:
        return f"{DATA_REFERENCE_PREFIX}{self.data_reference_name}"

    def __repr__(self) -> str:
        return (f"DataReference(datastore={self.datastore.name!r}, "
                f"path_on_datastore={self.path_on_datastore!r}, mode={self.mode!r})")


class DataPathComputeBinding:
    """How a step gets a DataPath (v1's ``DataPathComputeBinding``): 'mount' or 'download'."""

    def __init__(self, mode: str = "mount", path_on_compute: str | None = None,
                 overwrite: bool = False) -> None:
        if mode not in _MODES:
            raise DatastoreError(f"DataPathComputeBinding mode {mode!r} is not supported: use 'mount' or "
                                 "'download'")
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite


class DataPath:
    """A path in a datastore (v1's ``DataPath``), often a PipelineParameter's default value."""

    def __init__(self, datastore: Datastore | None = None, path_on_datastore: str | None = None,
                 name: str | None = None) -> None:
        if not isinstance(datastore, Datastore):
            raise DatastoreError(f"DataPath needs a Datastore, got {datastore!r}")
        self.datastore = datastore
        self.path_on_datastore = clean_path(path_on_datastore) or None
        self.name = name

    def create_data_reference(self, data_reference_name: str | None = None,
                              datapath_compute_binding: DataPathComputeBinding | None = None
                              ) -> DataReference:
        binding = datapath_compute_binding or DataPathComputeBinding()
        return DataReference(self.datastore, data_reference_name or self.name, self.path_on_datastore,
                             binding.mode, binding.path_on_compute, binding.overwrite)

    def __repr__(self) -> str:
        return f"DataPath(datastore={self.datastore.name!r}, path_on_datastore={self.path_on_datastore!r})"
