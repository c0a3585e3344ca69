"""A step run's outputs and their download (Azure ML v1's StepRunOutput and PortDataReference)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import requests

from steprun_widgets.core import layout
from steprun_widgets.core.rest import FileInfo, MlflowRest, RunRecord
from steprun_widgets.core.transport import _reason
from steprun_widgets.core.v1_names import V1Members
from steprun_widgets.errors import ServiceError, StepRunError

if TYPE_CHECKING:
    from steprun_widgets.core.runs import StepRun

CHUNK = 1024 * 1024


def relative_output_path(output_name: str, artifact_path: str) -> PurePosixPath:
    """The path of an artifact inside its output folder, refusing anything that could escape it.

    Absolute paths, ``..`` components, backslashes and drive letters are refused with an error that
    names the path, so a hostile server cannot make a download write outside its folder.
    """
    if artifact_path == layout.output_path(output_name) and "/" not in output_name:
        rel = output_name  # an output that is one file right under outputs/ (other tools do that)
        if rel in ("", ".", "..") or "\\" in rel or "\x00" in rel or (len(rel) > 1 and rel[1] == ":"):
            raise StepRunError(f"Output {output_name!r}: server path {artifact_path!r} would land "
                               "outside the download folder; refusing to download it")
        return PurePosixPath(rel)
    prefix = layout.output_path(output_name) + "/"
    if not artifact_path.startswith(prefix):
        raise StepRunError(f"Output {output_name!r}: server path {artifact_path!r} is not inside "
                           f"{prefix!r}; refusing to download it")
    rel = artifact_path[len(prefix):]
    pure = PurePosixPath(rel)
    if (not rel or "\\" in rel or "\x00" in rel or pure.is_absolute()
            or any(part in ("..", ".", "") for part in rel.split("/"))
            or (len(rel) > 1 and rel[1] == ":")):
        raise StepRunError(f"Output {output_name!r}: server path {artifact_path!r} would land "
                           "outside the download folder; refusing to download it")
    return pure


def safe_target(root: Path, rel: PurePosixPath, output_name: str) -> Path:
    """Where ``rel`` lands under ``root``; refuses a path that resolves outside (symlinks too)."""
    target = root.joinpath(*rel.parts)
    resolved_root = root.resolve()
    if not target.resolve().is_relative_to(resolved_root):
        raise StepRunError(f"Output {output_name!r}: {rel.as_posix()!r} resolves outside "
                           f"{str(root)!r}; refusing to download it")
    return target


class StepRunOutput(metaclass=V1Members):
    """One named output of a step run: its files on the server and its data reference."""

    def __init__(self, step_run: StepRun, name: str, files: list[FileInfo] | None = None) -> None:
        self.step_run = step_run
        self.name = name
        self._files = files

    @property
    def files(self) -> list[FileInfo]:
        """The output's files (artifact paths under ``outputs/<name>/``), listed once."""
        if self._files is None:
            self._files = self.step_run._rest.walk_artifacts(self.step_run.id,
                                                             layout.output_path(self.name))
        return self._files

    @property
    def size(self) -> int:
        return sum(f.file_size or 0 for f in self.files)

    @property
    def file_count(self) -> int:
        return len(self.files)

    @property
    def port_data_reference(self) -> PortDataReference:
        return PortDataReference(self)

    def get_port_data_reference(self) -> PortDataReference:
        """The data reference of this output (what ``download`` is called on)."""
        return self.port_data_reference

    def open_file(self, info: FileInfo):
        """A streamed download of one of :attr:`files` (a context manager)."""
        return self.step_run._rest.open_artifact(self.step_run._record(), info.path)

    def __repr__(self) -> str:
        return f"StepRunOutput(name={self.name!r}, run_id={self.step_run.id!r})"


class LoggedModelOutput(StepRunOutput):
    """An MLflow 3 logged model of the step (``mlflow.<flavor>.log_model`` in the script), which
    MLflow keeps under ``models/<model id>`` rather than among the run's artifacts: an output like
    the others, named after the model. Its :attr:`files` carry the output's usual paths
    (``outputs/<name>/<file>``) so every view of outputs reads them alike; :meth:`open_file` reads
    them from the logged model."""

    _v1_class = "StepRunOutput"

    def __init__(self, step_run: StepRun, name: str, model_id: str) -> None:
        super().__init__(step_run, name)
        self.model_id = model_id

    @property
    def files(self) -> list[FileInfo]:
        if self._files is None:
            prefix = layout.output_path(self.name)
            self._files = [FileInfo(f"{prefix}/{f.path}", False, f.file_size)
                           for f in self.step_run._rest.walk_logged_model(self.model_id)]
        return self._files

    def open_file(self, info: FileInfo):
        rel = info.path[len(layout.output_path(self.name)) + 1:]
        return self.step_run._rest.open_logged_model_file(self.model_id, rel)

    def __repr__(self) -> str:
        return (f"LoggedModelOutput(name={self.name!r}, model_id={self.model_id!r}, "
                f"run_id={self.step_run.id!r})")


class PortDataReference(metaclass=V1Members):
    """The data of one step output on the server; ``download`` fetches it."""

    def __init__(self, output: StepRunOutput) -> None:
        self._output = output

    @property
    def name(self) -> str:
        return self._output.name

    @property
    def step_run(self) -> StepRun:
        return self._output.step_run

    @property
    def path_on_datastore(self) -> str:
        """Where the output is in the datastore, in Azure ML's form ``azureml/<run id>/<output>``."""
        return layout.datastore_path(self.step_run.id, self.name)

    @property
    def _path_on_datastore(self) -> str:
        """v1's private spelling of :attr:`path_on_datastore`, which some of Microsoft's samples read."""
        return self.path_on_datastore

    @property
    def datastore_name(self) -> str:
        """The datastore that holds the output: the tracking server's artifact store."""
        return layout.DATASTORE_NAME

    @property
    def artifact_path(self) -> str:
        """The output's folder among the step run's MLflow artifacts (``outputs/<name>``)."""
        return layout.output_path(self.name)

    def iter_files(self) -> Iterator[tuple[PurePosixPath, FileInfo]]:
        """Each file of the output with its checked path relative to the output folder."""
        for info in self._output.files:
            yield relative_output_path(self.name, info.path), info

    def download(self, local_path: str | os.PathLike = ".", overwrite: bool = False,
                 show_progress: bool = True, *, flat: bool = False) -> str:
        """Download every file of the output into ``<local_path>/<path_on_datastore>/``.

        That is Azure ML's layout (``<local_path>/azureml/<step run id>/<output name>/...``), so
        code that reads ``os.path.join(local_path, ref.path_on_datastore, file)`` after a download
        works unchanged, and outputs of different runs never land on each other. ``flat=True``
        writes ``<local_path>/<output name>/...`` instead (what this method did before 0.2).
        An output that is a single file right under ``outputs/`` (runs of other tools) is written
        as a file of that name in the same folder.

        Files are streamed in chunks to a temporary name and renamed once complete, so no
        half-written file is ever left under its real name. Returns the path of what was written
        (the folder, or that single file); Azure ML returned a file count, which no sample reads.
        """
        files = self._output.files
        single = len(files) == 1 and files[0].path == layout.output_path(self.name)
        base = Path(local_path)
        if not flat:
            base = base.joinpath(*PurePosixPath(self.path_on_datastore).parent.parts)
        dest = base if single else base / self.name
        download_output(self.step_run._rest, self.step_run._record(), self.name, dest,
                        files=files, overwrite=overwrite, show_progress=show_progress,
                        opener=self._output.open_file)
        return str(dest / self.name) if single else str(dest)

    def __repr__(self) -> str:
        return f"PortDataReference(output={self.name!r}, run_id={self.step_run.id!r})"


def download_output(rest: MlflowRest, run: RunRecord, output_name: str, dest: Path, *,
                    files: list[FileInfo] | None = None, overwrite: bool = False,
                    show_progress: bool = False, opener=None) -> list[Path]:
    """Stream the files of ``outputs/<output_name>/`` of a run into ``dest``; returns the files.

    Every server path is checked before anything is written; with ``overwrite=False`` an existing
    file is an error (raised before any download).
    """
    if files is None:
        files = rest.walk_artifacts(run.run_id, layout.output_path(output_name))
    targets = [(safe_target(dest, relative_output_path(output_name, f.path), output_name), f)
               for f in files]
    if not overwrite:
        existing = [str(t) for t, _ in targets if t.exists()]
        if existing:
            raise StepRunError(f"Output {output_name!r}: {existing[0]!r} already exists; "
                               "pass overwrite=True to replace it")
    bar = _progress(show_progress, sum(f.file_size or 0 for f in files), output_name)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for target, info in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            with (opener(info) if opener else rest.open_artifact(run, info.path)) as response:
                try:
                    write_atomically(target, response.iter_content(CHUNK), bar.update if bar else None)
                except requests.exceptions.RequestException as exc:  # the stream broke off
                    raise ServiceError(
                        f"Output {output_name!r}: the download of {info.path!r} from "
                        f"{rest.transport.display_url} broke off: {_reason(exc)}",
                        url=rest.transport.base_url) from None
    finally:
        if bar is not None:
            bar.close()
    return [t for t, _ in targets]


def write_atomically(target: Path, chunks, on_chunk=None) -> int:
    """Write chunks to a temp file beside ``target``, then rename it into place; returns bytes."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
                if on_chunk:
                    on_chunk(len(chunk))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return written


def _progress(show: bool, total: int, name: str):
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm comes with the local extra; without it there is no bar
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"download {name}")
