"""The runner's work area: where steps keep their data while they run, and how it is cleaned up.

Layout: ``<work area>/<pipeline run id>/`` holds the pipeline's ``plan.json`` and ``runner.log``
and one folder per step (``inputs/``, ``outputs/``, ``spool/``). The work area is
``<root>/work`` for the embedded default and ``$TMPDIR/steprun-widgets/work`` elsewhere (and on
every Dask worker that runs a step).

Nothing here is needed once a run is final: its logs and outputs are on the tracking server, and
reuse reads them from there. So:

- a step removes its folder itself, once its outputs are uploaded and its final status is recorded
  (in the step's own execution code: on a Dask worker the folder is on the worker);
- a finished step whose outputs feed later steps on this machine keeps only ``outputs/`` (the next
  step reads them without a download) until its consumers have ended;
- a **failed** step's folder, and the ``runner.log`` of a failed pipeline, are kept for debugging,
  bounded by :class:`Retention` (``STEPRUN_KEEP_FAILED`` newest failed runs, none older than
  ``STEPRUN_KEEP_FAILED_DAYS``); the oldest beyond the bound are evicted when another is kept;
- the pipeline's folder goes when the pipeline is final.

"Running" is decided by locks: the runner holds ``runner.lock`` in its pipeline's folder and every
step holds ``step.lock`` in its own, for as long as it works there. They are the operating system's
file locks (``flock`` on POSIX, ``LockFileEx`` on Windows, through ``filelock``, never its soft
fallback), which the kernel drops when their process dies, SIGKILL included, so a held lock always
means a live process.
:func:`plan_clean` (the ``steprun-widgets clean`` command) also asks the tracking server and only
removes a folder whose pipeline is not ``Running`` there (final, or ``NotResponding``: its
heartbeat is stale), which covers the moment between submission and the runner taking its lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from steprun_widgets.core import layout
from steprun_widgets.errors import StepRunError

#: How many failed runs' folders are kept for debugging (0: none).
KEEP_FAILED_ENV = "STEPRUN_KEEP_FAILED"
#: How many days a failed run's folder is kept for debugging at most.
KEEP_FAILED_DAYS_ENV = "STEPRUN_KEEP_FAILED_DAYS"
DEFAULT_KEEP_FAILED = 5
DEFAULT_KEEP_FAILED_DAYS = 7.0

RUNNER_LOCK = "runner.lock"
STEP_LOCK = "step.lock"
#: Written into a folder kept for debugging (a step's, or a failed pipeline's); its mtime is its age.
KEPT_MARKER = ".kept-for-debugging"
#: What a step writes into its pipeline's folder on a machine without the plan (a Dask worker), so
#: that ``clean`` there knows which run and server the folder belongs to.
RECORD_FILE = "run.json"
PLAN_FILE = "plan.json"
RUNNER_LOG = "runner.log"
#: How long a step waits for its lock (only ever held for an instant by ``clean`` probing it).
LOCK_WAIT = 10.0


class WorkAreaError(StepRunError):
    """A work-area setting is invalid, or a folder of it cannot be used."""


def work_area(local_root: Path | None) -> Path:
    """The work area of a workspace: ``<root>/work`` on the embedded default, else the temp one."""
    if local_root is not None:
        return Path(local_root) / "work"
    return Path(tempfile.gettempdir()) / "steprun-widgets" / "work"


# --- retention ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Retention:
    """How many failed runs' folders are kept for debugging, and for how long at most."""

    count: int = DEFAULT_KEEP_FAILED
    days: float = DEFAULT_KEEP_FAILED_DAYS

    @classmethod
    def from_env(cls) -> Retention:
        """The retention ``STEPRUN_KEEP_FAILED`` / ``STEPRUN_KEEP_FAILED_DAYS`` ask for (else defaults)."""
        return cls(count=int(_number_env(KEEP_FAILED_ENV, DEFAULT_KEEP_FAILED, integer=True)),
                   days=_number_env(KEEP_FAILED_DAYS_ENV, DEFAULT_KEEP_FAILED_DAYS, integer=False))

    @property
    def keeps(self) -> bool:
        return self.count > 0 and self.days > 0

    def describe(self) -> str:
        return f"the {self.count} newest failed runs, at most {self.days:g} days"


def _number_env(name: str, default: float, integer: bool) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = -1
    if value < 0:
        what = ("a whole number >= 0 (how many failed runs' folders to keep)" if integer
                else "a number >= 0 (how many days a failed run's folder is kept)")
        raise WorkAreaError(f"{name}={raw!r} is not {what}")
    return value


# --- locks ----------------------------------------------------------------------------------------
def _os_lock(path: Path):
    """A ``filelock`` lock on ``path`` that is the OS's own (dies with its process), kept as a file
    after release, one per call (not shared between threads or objects of this process).

    Where the system has no file locks filelock knows (neither ``fcntl`` nor Windows' ``msvcrt``), it is
    filelock's soft lock, a marker file: a process that dies holding one leaves its folder "in use"
    for ``clean``, which then keeps that folder (nothing is ever removed under a live step).
    """
    import filelock

    soft = issubclass(filelock.FileLock, filelock.SoftFileLock)
    wanted = {"mode": 0o600, "thread_local": False, "is_singleton": False,
              "fallback_to_soft": False, "preserve_lock_file": not soft}
    accepted = inspect.signature(filelock.FileLock.__init__).parameters
    return filelock.FileLock(str(path), **{k: v for k, v in wanted.items() if k in accepted})


def _try_lock(path: Path, create: bool):
    """The lock on ``path`` taken without waiting; None when another process holds it.

    Raises FileNotFoundError when the file is missing and not ``create``.
    """
    import filelock

    if not create and not path.exists():
        raise FileNotFoundError(path)
    lock = _os_lock(path)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return None
    return lock


class FolderLock:
    """An exclusive OS file lock on a lock file, held until :meth:`release` (or the process dies)."""

    def __init__(self, path: Path, wait: float = LOCK_WAIT) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait
        while True:
            self._lock = _try_lock(path, create=True)
            if self._lock is not None:
                return
            if time.monotonic() >= deadline:
                raise WorkAreaError(f"{path} is held by another process")
            time.sleep(0.05)

    def release(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.release(force=True)
            self._lock = None


@contextlib.contextmanager
def _probe_locks(folder: Path) -> Iterator[bool]:
    """Take every lock file under a pipeline folder without waiting; yields False if any is held.

    The locks stay taken while the caller removes the folder, so no step can start in it meanwhile.
    """
    taken = []
    free = True
    try:
        for path in [*folder.glob(RUNNER_LOCK), *folder.glob(f"*/{STEP_LOCK}")]:
            try:
                lock = _try_lock(path, create=False)
            except FileNotFoundError:
                continue
            except OSError:
                free = False  # someone else's file: treat it as in use
                break
            if lock is None:
                free = False
                break
            taken.append(lock)
        yield free
    finally:
        for lock in taken:
            with contextlib.suppress(OSError):
                lock.release(force=True)


def is_held(folder: Path) -> bool:
    """Whether a live runner or step holds a lock in this pipeline folder."""
    with _probe_locks(folder) as free:
        return not free


# --- a step's folder ------------------------------------------------------------------------------
_FOLDER_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")


def step_folder(step_name: str) -> str:
    """The folder name of a step in its pipeline's work folder: the step's name when that is a safe
    file name, else a safe form of it with a digest of the whole name (``Cleanse Green Taxi Data``
    → ``Cleanse_Green_Taxi_Data-1a2b3c4d``), so two names never share a folder."""
    if _FOLDER_SAFE.match(step_name) and ".." not in step_name:
        return step_name
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "_", step_name).strip("._-")[:60] or "step"
    return f"{slug}-{hashlib.sha1(step_name.encode()).hexdigest()[:8]}"


class StepArea:
    """One step's folder, locked while the step works in it, and what happens to it at the end."""

    def __init__(self, pipeline_folder: Path, step_name: str, retention: Retention, *,
                 keep_outputs: bool = False, record: dict | None = None) -> None:
        self.path = pipeline_folder / step_folder(step_name)
        self.retention = retention
        #: A finished step whose outputs later steps on this machine read keeps ``outputs/``.
        self.keep_outputs = keep_outputs
        lock = None
        for attempt in range(3):  # another step of the pipeline that ended here may remove the
            try:                  # pipeline's folder (on a worker) just as this one starts in it
                self.path.mkdir(parents=True, exist_ok=True)
                lock = FolderLock(self.path / STEP_LOCK)
                if record and not (pipeline_folder / PLAN_FILE).exists():
                    _write_json(pipeline_folder / RECORD_FILE, record)
                break
            except FileNotFoundError:
                if lock is not None:
                    lock.release()
                if attempt == 2:
                    raise
        self._lock = lock

    def kept_note(self, status: str) -> str | None:
        """The job-log line saying where a failed step's folder stays, or None when it goes."""
        if status != layout.FAILED or not self.retention.keeps:
            return None
        return (f"Step folder kept for debugging at {self.path} ({self.retention.describe()}; "
                "`steprun-widgets clean --all` removes it)")

    def settle(self, status: str) -> None:
        """Call once the step's final status is recorded: remove the folder, or keep it if it failed."""
        try:
            if status == layout.FAILED and self.retention.keeps:
                (self.path / KEPT_MARKER).touch()
            elif status == layout.FINISHED and self.keep_outputs:
                for child in self.path.iterdir():
                    if child.name not in ("outputs", STEP_LOCK):
                        _remove(child)
            else:
                _remove(self.path)
                parent = self.path.parent
                with contextlib.suppress(OSError):  # the pipeline's folder on a worker, now unused
                    if {p.name for p in parent.iterdir()} <= {RECORD_FILE}:
                        _remove(parent / RECORD_FILE)
                        parent.rmdir()
        finally:
            self.release()
        if status == layout.FAILED and self.retention.keeps:
            enforce_retention(self.path.parent.parent, self.retention)

    def release(self) -> None:
        self._lock.release()


# --- a pipeline's folder --------------------------------------------------------------------------
def hold_pipeline(folder: Path) -> FolderLock:
    """The runner's lock on its pipeline's folder, held while it drives the pipeline."""
    return FolderLock(folder / RUNNER_LOCK)


def release_outputs(folder: Path, step_name: str) -> None:
    """Remove a finished step's folder kept for its consumers (they have all ended)."""
    step = folder / step_folder(step_name)
    if step.is_dir() and not (step / KEPT_MARKER).exists():
        with _probe_locks_of_step(step) as free:
            if free:
                _remove(step)


@contextlib.contextmanager
def _probe_locks_of_step(step: Path) -> Iterator[bool]:
    try:
        lock = _try_lock(step / STEP_LOCK, create=False)
    except FileNotFoundError:
        yield True
        return
    if lock is None:
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):
            lock.release(force=True)


def settle_pipeline(folder: Path, status: str, retention: Retention, lock: FolderLock | None) -> None:
    """Call once the pipeline's final status is recorded: remove its folder but what is kept.

    Kept: the folders of failed steps, and the ``runner.log`` of a failed pipeline (with the
    retention bound). Everything else (the plan, the folders of steps that ended otherwise) goes.
    """
    keep_log = status == layout.FAILED and retention.keeps
    try:
        for child in list(folder.iterdir()) if folder.is_dir() else []:
            if child.name == RUNNER_LOCK:
                continue
            if child.is_dir() and (child / KEPT_MARKER).exists():
                continue
            if keep_log and child.name in (RUNNER_LOG, KEPT_MARKER):
                continue
            if child.is_dir():
                with _probe_locks_of_step(child) as free:
                    if free:
                        _remove(child)
            else:
                _remove(child)
        if keep_log:
            (folder / KEPT_MARKER).touch()
        with contextlib.suppress(OSError):
            remaining = {p.name for p in folder.iterdir()}
            if remaining <= {RUNNER_LOCK, KEPT_MARKER}:
                _remove(folder)
    finally:
        if lock is not None:
            lock.release()
    if keep_log or (folder / KEPT_MARKER).exists():
        enforce_retention(folder.parent, retention)


# --- what the work area holds ---------------------------------------------------------------------
@dataclass
class RunFolder:
    """A pipeline's folder in the work area."""

    path: Path
    size: int
    #: Something in it is kept for debugging; ``kept_at`` is when (epoch seconds).
    kept: bool
    kept_at: float
    #: Tracking URI and pipeline run id it belongs to, when recorded.
    tracking_uri: str | None
    run_id: str


def folder_size(path: Path) -> int:
    """Bytes held by the files under ``path`` (symbolic links are not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def scan(base: Path) -> list[RunFolder]:
    """The pipeline folders of a work area, oldest first."""
    found = []
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        if not folder.is_dir():
            continue
        markers = [folder / KEPT_MARKER, *folder.glob(f"*/{KEPT_MARKER}")]
        times = [m.stat().st_mtime for m in markers if m.exists()]
        record = _read_record(folder)
        found.append(RunFolder(path=folder, size=folder_size(folder), kept=bool(times),
                               kept_at=max(times) if times else 0.0,
                               tracking_uri=record.get("tracking_uri"),
                               run_id=record.get("pipeline_run_id") or folder.name))
    return found


def summary(base: Path) -> str:
    """One line on what a work area holds, for ``steprun-widgets server status``."""
    folders = scan(base)
    if not folders:
        return f"work area {base}: empty"
    kept = sum(1 for f in folders if f.kept)
    return (f"work area {base}: {format_size(sum(f.size for f in folders))} in {len(folders)} run "
            f"folder(s), {kept} kept for debugging")


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


# --- retention and clean --------------------------------------------------------------------------
def _beyond_retention(folders: list[RunFolder], retention: Retention, now: float) -> set[Path]:
    kept = sorted((f for f in folders if f.kept), key=lambda f: f.kept_at, reverse=True)
    limit = now - retention.days * 86400
    return {f.path for i, f in enumerate(kept) if i >= retention.count or f.kept_at < limit}


def enforce_retention(base: Path, retention: Retention, now: float | None = None) -> list[Path]:
    """Remove the folders kept for debugging beyond the bound (never one a live process holds)."""
    evicted = []
    for path in sorted(_beyond_retention(scan(base), retention, now or time.time())):
        if _remove_unless_held(path):
            evicted.append(path)
    return evicted


@dataclass
class Decision:
    """What ``clean`` does with one pipeline folder, and why."""

    folder: RunFolder
    remove: bool
    reason: str


#: Given a run folder, the Azure ML v1 status of its pipeline run on the server; None when it cannot be
#: told (server unreachable); "" when the server has no such run (deleted).
StatusLookup = Callable[[RunFolder], "str | None"]


def plan_clean(base: Path, status_of: StatusLookup, retention: Retention, *, include_kept: bool = False,
               now: float | None = None) -> list[Decision]:
    """Decide, for every pipeline folder of a work area, whether ``clean`` may remove it.

    Never removed: a folder a live runner or step holds a lock in, or whose pipeline is Running
    (or Queued / NotStarted) on the tracking server, or whose status cannot be learnt. Removed:
    the rest, except what is kept for debugging within the retention (unless ``include_kept``).
    """
    folders = scan(base)
    beyond = _beyond_retention(folders, retention, now or time.time())
    decisions = []
    for folder in folders:
        if is_held(folder.path):
            decisions.append(Decision(folder, False, "in use by a live runner or step"))
            continue
        status = status_of(folder)
        if status is None:
            decisions.append(Decision(folder, False, "cannot reach its tracking server to tell "
                                                     "whether it is running"))
        elif status in (layout.RUNNING, layout.QUEUED, layout.NOT_STARTED):
            decisions.append(Decision(folder, False, f"pipeline run {folder.run_id} is {status}"))
        elif folder.kept and not include_kept and folder.path not in beyond:
            decisions.append(Decision(folder, False, "kept for debugging (--all removes it)"))
        else:
            why = (f"pipeline run {folder.run_id} is {status}" if status
                   else f"no pipeline run {folder.run_id} on the server")
            if folder.kept:
                why += ", kept for debugging" + ("" if include_kept else " beyond the retention")
            decisions.append(Decision(folder, True, why))
    return decisions


def apply_clean(decisions: list[Decision]) -> list[Decision]:
    """Remove the folders ``plan_clean`` chose; those a process took meanwhile are left (returned)."""
    left = []
    for decision in decisions:
        if decision.remove and not _remove_unless_held(decision.folder.path):
            left.append(decision)
    return left


# --- helpers --------------------------------------------------------------------------------------
def _remove_unless_held(folder: Path) -> bool:
    with _probe_locks(folder) as free:
        if free:
            _remove(folder)
    return free


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _read_record(folder: Path) -> dict:
    for name in (PLAN_FILE, RECORD_FILE):
        with contextlib.suppress(OSError, ValueError):
            raw = json.loads((folder / name).read_text(encoding="utf-8"))
            if isinstance(raw, dict):
                return {key: raw.get(key) for key in ("tracking_uri", "pipeline_run_id")}
    return {}


def _write_json(path: Path, data: dict) -> None:
    """Write atomically (temp file + rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def server_lookup(tracking_uri: str | None = None) -> StatusLookup:
    """A :data:`StatusLookup` asking the tracking server each folder belongs to.

    ``tracking_uri`` is the server for every folder (the embedded server of a root: its port may
    have changed since the run); otherwise each folder's recorded URI is asked, with the
    credentials of the environment (``MLFLOW_TRACKING_*``, as ``Workspace`` reads them).
    """
    from steprun_widgets.core.workspace import Workspace
    from steprun_widgets.errors import RunNotFoundError

    workspaces: dict[str, Workspace] = {}

    def status_of(folder: RunFolder) -> str | None:
        uri = tracking_uri or folder.tracking_uri
        if not uri:
            return None
        try:
            if uri not in workspaces:
                workspaces[uri] = Workspace(uri, retries=1)
            return workspaces[uri].rest.get_run(folder.run_id).azureml_status()
        except RunNotFoundError:
            return ""
        except StepRunError:
            return None

    return status_of
