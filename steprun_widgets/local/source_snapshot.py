"""Content-addressed snapshots of a step's ``source_directory``: pack, store once, fetch, unpack.

A snapshot is the files of a source folder that matter, named by a digest of their relative paths
and bytes. What is left out: the folders that never change what a step computes
(``reuse.IGNORED_DIRS``: ``.git``, ``__pycache__``...) and what the folder's ``.amlignore`` lists,
else what its ``.gitignore`` lists (gitwildmatch patterns, as Azure ML v1 reads them; only the
file at the folder's top is read). A folder above :func:`max_bytes` is refused with an error naming
the folder, its size and its largest files.

On the tracking server a snapshot is one run of the published-pipelines experiment
(``layout.PUBLISHED_EXPERIMENT``) tagged with its digest, holding the archive
``layout.SNAPSHOT_ARCHIVE`` (a gzip'd tar): stored once per digest, whoever stores it. Unpacking
goes through tarfile's ``data`` filter (no absolute paths, no links out of the folder, no device
files) into a temporary folder whose digest is checked before it is renamed into place, so a
folder named by a digest always holds exactly that content.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pathspec

from steprun_widgets.core import layout
from steprun_widgets.core.rest import MlflowRest, RunRecord
from steprun_widgets.errors import StepRunError
from steprun_widgets.local.private import private_dir
from steprun_widgets.local.reuse import IGNORED_DIRS
from steprun_widgets.local.workarea import FolderLock

#: The ignore files read at the top of a source folder, the first found wins (as in Azure ML v1).
IGNORE_FILES = (".amlignore", ".gitignore")
#: Environment variable that changes the size limit of a snapshot, in MB.
MAX_MB_ENV = "STEPRUN_SNAPSHOT_MAX_MB"
#: Azure ML v1 refused a snapshot above 300 MB; so does this, unless ``STEPRUN_SNAPSHOT_MAX_MB`` says.
DEFAULT_MAX_MB = 300.0
#: Written next to an unpacked folder once its content is checked (``<digest>.ok``).
_DONE_SUFFIX = ".ok"
#: How long a process waits for another one unpacking the same snapshot (seconds).
UNPACK_WAIT = 600.0


class SnapshotError(StepRunError):
    """A source folder cannot be snapshotted (missing, too large), or a snapshot cannot be read."""


def max_bytes() -> int:
    """The size limit of a snapshot: ``STEPRUN_SNAPSHOT_MAX_MB`` MB, else 300 MB."""
    raw = os.environ.get(MAX_MB_ENV, "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_MAX_MB
    except ValueError:
        mb = -1.0
    if mb <= 0:
        raise SnapshotError(f"{MAX_MB_ENV}={raw!r} is not a size in MB (a number above 0)")
    return int(mb * 1024 * 1024)


def format_size(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover


@dataclass
class Snapshot:
    """The files of a source folder that a snapshot holds, and their digest."""

    folder: Path
    #: (relative POSIX path, size) in the order they are hashed and packed.
    files: list[tuple[str, int]] = field(default_factory=list)
    digest: str = ""

    @property
    def size(self) -> int:
        return sum(size for _, size in self.files)


def _ignore_spec(folder: Path) -> pathspec.PathSpec | None:
    for name in IGNORE_FILES:
        path = folder / name
        if path.is_file():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            return pathspec.GitIgnoreSpec.from_lines(lines)
    return None


def select_files(folder: Path) -> list[tuple[str, int]]:
    """(relative path, size) of every file a snapshot of ``folder`` holds, sorted by path."""
    spec = _ignore_spec(folder)
    found: list[tuple[str, int]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        rel_dir = Path(dirpath).relative_to(folder).as_posix()
        prefix = "" if rel_dir == "." else f"{rel_dir}/"
        keep = []
        for d in sorted(dirnames):
            if d in IGNORED_DIRS or (spec is not None and spec.match_file(f"{prefix}{d}/")):
                continue
            keep.append(d)
        dirnames[:] = keep
        for filename in filenames:
            rel = f"{prefix}{filename}"
            if spec is not None and spec.match_file(rel):
                continue
            path = Path(dirpath) / filename
            if not path.is_file():  # a dangling link, a socket...
                continue
            found.append((rel, path.stat().st_size))
    return sorted(found)


def take(folder: str | os.PathLike, limit: int | None = None) -> Snapshot:
    """The snapshot of ``folder``: its files and their digest; SnapshotError when too large."""
    root = Path(folder)
    if not root.is_dir():
        raise SnapshotError(f"source_directory {str(root)!r} does not exist or is not a folder")
    files = select_files(root)
    snap = Snapshot(folder=root, files=files)
    limit = max_bytes() if limit is None else limit
    if snap.size > limit:
        biggest = sorted(files, key=lambda f: -f[1])[:3]
        shown = ", ".join(f"{rel} ({format_size(size)})" for rel, size in biggest)
        raise SnapshotError(
            f"source_directory {str(root.resolve())!r} holds {format_size(snap.size)} in "
            f"{len(files)} files, over the {format_size(limit)} limit of a source snapshot (largest: "
            f"{shown}). List what the step does not need (data, models, outputs) in "
            f"{IGNORE_FILES[0]} or {IGNORE_FILES[1]} there (gitignore syntax), or raise {MAX_MB_ENV}")
    digest = hashlib.sha256()
    for rel, _ in files:
        digest.update(rel.encode() + b"\0")
        with open(root / rel, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    snap.digest = digest.hexdigest()
    return snap


def pack(snap: Snapshot, target: IO[bytes] | None = None) -> bytes | None:
    """The snapshot's files as a gzip'd tar (no owners, no times: the same files pack alike),
    written into ``target`` (a binary file) when given, else returned as bytes."""
    buffer = target if target is not None else io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for rel, _ in snap.files:
            path = snap.folder / rel
            info = tarfile.TarInfo(rel)
            info.size = path.stat().st_size
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.mtime = 0
            with open(path, "rb") as f:
                tar.addfile(info, f)
    return None if target is not None else buffer.getvalue()


def unpack(archive: bytes | Path, dest: Path, digest: str) -> Path:
    """Unpack an archive into ``dest`` (which must not exist yet), checking its digest first.

    The archive is extracted into a temporary sibling of ``dest`` and renamed into place only when
    its content has ``digest``; a corrupt or tampered archive raises SnapshotError and leaves nothing.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        with (io.BytesIO(archive) if isinstance(archive, bytes) else open(archive, "rb")) as source, \
                tarfile.open(fileobj=source, mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")
        got = take(tmp, limit=1 << 62).digest
        if got != digest:
            raise SnapshotError(f"source snapshot {digest[:12]}… unpacks to other content "
                                f"(digest {got[:12]}…): it is damaged on the server")
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():  # not someone else who unpacked the same digest meanwhile
                raise
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SnapshotError(f"source snapshot {digest[:12]}… cannot be unpacked into {dest}: "
                            f"{type(exc).__name__}: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# --- on the tracking server -----------------------------------------------------------------------
def _published_experiment(rest: MlflowRest) -> str:
    return rest.get_or_create_experiment(layout.PUBLISHED_EXPERIMENT)


def find_stored(rest: MlflowRest, digest: str) -> RunRecord | None:
    """The run that holds the snapshot with this digest, or None when none was stored."""
    experiment_id = _published_experiment(rest)
    found = rest.search_runs(
        [experiment_id], f"tags.`{layout.TAG_SNAPSHOT_DIGEST}` = '{digest}' and "
        f"tags.`{layout.TAG_SNAPSHOT_COMPLETE}` = 'true'", max_results=1)
    return found[0] if found else None


def store(rest: MlflowRest, snap: Snapshot) -> str:
    """Store a snapshot on the tracking server once per digest; the id of the run that holds it."""
    found = find_stored(rest, snap.digest)
    if found is not None:
        return found.run_id
    record = rest.create_run(
        _published_experiment(rest), name=f"source snapshot {snap.digest[:12]}",
        tags={layout.TAG_PUBLISHED_KIND: layout.PUBLISHED_KIND_SNAPSHOT,
              layout.TAG_SNAPSHOT_DIGEST: snap.digest,
              layout.TAG_SNAPSHOT_SIZE: str(snap.size),
              layout.TAG_SNAPSHOT_FILES: str(len(snap.files))})
    try:
        with tempfile.TemporaryFile() as archive:  # streamed: a snapshot may be hundreds of MB
            pack(snap, archive)
            archive.seek(0)
            rest.upload_artifact(record, layout.SNAPSHOT_ARCHIVE, archive)
        rest.set_tag(record.run_id, layout.TAG_SNAPSHOT_COMPLETE, "true")
        rest.update_run(record.run_id, layout.MLFLOW_STATUS[layout.FINISHED], _now_ms())
    except BaseException:
        with contextlib.suppress(Exception):  # an incomplete snapshot is never found (no complete tag)
            rest.update_run(record.run_id, layout.MLFLOW_STATUS[layout.FAILED])
        raise
    return record.run_id


def _now_ms() -> int:
    return int(time.time() * 1000)


def _download(rest: MlflowRest, record: RunRecord, target: Path) -> None:
    with rest.open_artifact(record, layout.SNAPSHOT_ARCHIVE) as response, open(target, "wb") as f:
        for chunk in response.iter_content(1 << 16):
            f.write(chunk)


def cache_root(local_root: Path | None) -> Path:
    """Where unpacked snapshots live: ``<root>/snapshots`` for the embedded default, else the
    user's cache folder (``platformdirs``), owner-only either way."""
    if local_root is not None:
        return private_dir(Path(local_root) / "snapshots", what="snapshot cache")
    import platformdirs

    return private_dir(Path(platformdirs.user_cache_dir("steprun-widgets")) / "snapshots",
                       what="snapshot cache")


def materialize(rest: MlflowRest, digest: str, cache: Path) -> Path:
    """The folder ``<cache>/<digest>`` holding the snapshot's files, fetched and unpacked when
    not there yet (a folder whose check mark is missing is unpacked again)."""
    dest = cache / digest
    done = cache / f"{digest}{_DONE_SUFFIX}"
    if dest.is_dir() and done.exists():
        return dest
    # One process unpacks a digest at a time: another one submitting the same pipeline meanwhile
    # waits, then finds it done (never a folder removed under a step that runs in it).
    lock = FolderLock(cache / f"{digest}.lock", wait=UNPACK_WAIT)
    try:
        if dest.is_dir() and done.exists():
            return dest
        record = find_stored(rest, digest)
        if record is None:
            raise SnapshotError(f"source snapshot {digest[:12]}… is not on {rest.transport.display_url} "
                                f"(experiment {layout.PUBLISHED_EXPERIMENT!r}): publish the pipeline again")
        if dest.exists():  # an unpacking that was interrupted before its check mark
            shutil.rmtree(dest)
        with _temp_file(cache) as archive:
            _download(rest, record, archive)
            unpack(archive, dest, digest)
        done.touch()
    finally:
        lock.release()
    return dest


@contextlib.contextmanager
def _temp_file(folder: Path) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(dir=folder, prefix=".download.", suffix=".tar.gz")
    os.close(fd)
    try:
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
