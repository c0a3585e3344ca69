"""Shipping a live log to the tracking server while the step runs.

Two ways, chosen per run:

* :class:`AppendSink` when the server's artifact store is a folder on this machine (the embedded
  server, Dask workers beside it): new bytes are appended to the artifact file itself, so shipping
  costs exactly the bytes written and a reader sees them at once.
* :class:`UploadSink` otherwise: the log is spooled to a local file and the whole file is uploaded
  again (MLflow artifacts cannot be appended to over REST). An upload happens when the log at
  least doubled, or when enough time has passed for its size: every second for a small log (so
  new lines show within about a second), up to every ``MAX_INTERVAL`` for a large one, so that
  re-uploads cost at most about ``TRICKLE_RATE`` bytes a second beyond twice the log; the
  benchmark prints that cost.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from steprun_widgets.core.rest import MlflowRest, RunRecord
from steprun_widgets.errors import redact


def local_artifact_file(local_artifacts: str | None, run: RunRecord, artifact_path: str) -> Path | None:
    """The file behind a run's artifact when the store is a local folder we can write, else None."""
    prefix = "mlflow-artifacts:"
    if not local_artifacts or not run.artifact_uri.startswith(prefix):
        return None
    root = Path(local_artifacts)
    if not root.is_dir() or not os.access(root, os.W_OK):
        return None
    rel = run.artifact_uri[len(prefix):].lstrip("/")
    if rel.startswith("/") or ".." in rel.split("/"):
        return None
    return root / rel / artifact_path


#: Bytes of one log kept in memory while its file cannot be written (a full disk, a quota): they
#: are written, in order, as soon as a write succeeds again. Past this the log cannot stay whole:
#: later bytes are dropped (the log stays a prefix, never a log with a hole) and the step fails.
HOLD_LIMIT = 8 * 1024 * 1024
#: After the script ends, how long bytes still held keep being retried (space may come back)
#: before the step fails saying which file could not be written and why.
SPACE_WAIT = 15.0
#: Pause between those retries.
SPACE_RETRY = 0.5


class HeldFile:
    """An append-only file whose writes never raise and never block on a full disk.

    A write that fails (``ENOSPC`` or any ``OSError``) leaves its bytes in memory, up to
    ``HOLD_LIMIT``; every later write or :meth:`flush` tries them again first, so the file gets
    every byte in order once space returns. :meth:`problem` says why the file is not whole.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        self._start = os.fstat(self._fd).st_size
        self._held = bytearray()
        self._lock = threading.Lock()
        #: Bytes in the file (written by this object).
        self.written = 0
        #: Bytes handed to :meth:`write`.
        self.received = 0
        #: Bytes dropped because more than HOLD_LIMIT waited: the log cannot be whole.
        self.lost = 0
        #: The last write error (None once everything held was written).
        self.fault: OSError | None = None

    def write(self, data: bytes) -> None:
        with self._lock:
            self.received += len(data)
            if self.lost:
                self.lost += len(data)
                return
            self._flush()
            if len(self._held) + len(data) > HOLD_LIMIT:
                self.lost += len(data)
                return
            self._held += data
            self._flush()

    def flush(self) -> bool:
        """Write what is held; True when nothing is left in memory."""
        with self._lock:
            self._flush()
            return not self._held

    @property
    def held(self) -> int:
        return len(self._held)

    def _flush(self) -> None:
        while self._held:
            try:
                n = os.write(self._fd, self._held)
            except OSError as exc:
                self.fault = exc
                return
            del self._held[:n]
            self.written += n
        self.fault = None

    def _reason(self) -> str:
        exc = self.fault
        if exc is None:
            return "a write failed"
        return f"[Errno {exc.errno}] {os.strerror(exc.errno)}" if exc.errno else str(exc)

    def problem(self) -> str | None:
        """Why the file does not hold every byte written to this object, or None when it does."""
        if self.lost:
            return (f"The {self.what} could not be written to {str(self.path)!r}: {self._reason()}; "
                    f"more than {HOLD_LIMIT // (1024 * 1024)} MiB waited in memory, so "
                    f"{self.lost} bytes were dropped")
        if self._held:
            return (f"The {self.what} could not be written to {str(self.path)!r}: {self._reason()} "
                    f"({len(self._held)} bytes not written)")
        try:
            size = os.fstat(self._fd).st_size
        except OSError as exc:
            return f"The {self.what} at {str(self.path)!r} cannot be checked: {exc}"
        if size != self._start + self.written:
            return (f"The {self.what} at {str(self.path)!r} holds {size - self._start} bytes of the "
                    f"{self.written} written to it (changed by something else?)")
        return None

    def finish(self, wait: float) -> str | None:
        """Retry what is held for at most ``wait`` seconds, close; :meth:`problem` at the end."""
        deadline = time.monotonic() + wait
        while not self.flush() and not self.lost and time.monotonic() < deadline:
            time.sleep(SPACE_RETRY)
        problem = self.problem()
        self.close()
        return problem

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


class AppendSink:
    """Appends bytes straight to the artifact file in a local artifact store."""

    def __init__(self, path: Path, what: str = "log") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.file = HeldFile(path, what)

    def write(self, data: bytes) -> None:
        self.file.write(data)

    @property
    def shipped(self) -> int:
        return self.file.written

    @property
    def visible_size(self) -> int:
        """Bytes a reader can see on the server now."""
        return self.file.written

    def problem(self) -> str | None:
        """Set once the log can no longer be whole (see HeldFile): the step must fail."""
        return self.file.problem() if self.file.lost else None

    def tick(self) -> None:
        """Write bytes held back by a failed write (space may have come back)."""
        if self.file.held:
            self.file.flush()

    def finish(self, wait: float = SPACE_WAIT) -> str | None:
        """Close; why the log on the server is not whole, or None when it holds every byte."""
        return self.file.finish(wait)

    def close(self) -> None:
        self.file.close()


class UploadSink:
    """Spools bytes locally and re-uploads the whole file when it has grown enough."""

    MIN_INTERVAL = 1.0
    MAX_INTERVAL = 10.0
    #: A log that has not doubled is uploaded again after size / TRICKLE_RATE seconds (within
    #: MIN_INTERVAL..MAX_INTERVAL): small logs every second, re-upload traffic bounded.
    TRICKLE_RATE = 64 * 1024

    def __init__(self, rest: MlflowRest, run: RunRecord, artifact_path: str, spool: Path,
                 what: str = "log") -> None:
        self.rest = rest
        self.run = run
        self.artifact_path = artifact_path
        spool.parent.mkdir(parents=True, exist_ok=True)
        self.spool = spool
        self.what = what
        self.file = HeldFile(spool, f"{what} (spooled before upload)")
        self.uploaded_size = 0
        self.last_upload = 0.0
        #: Total bytes sent over HTTP for this log (the re-upload cost).
        self.shipped = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)

    @property
    def size(self) -> int:
        return self.file.written

    @property
    def visible_size(self) -> int:
        return self.uploaded_size

    def problem(self) -> str | None:
        return self.file.problem() if self.file.lost else None

    def tick(self) -> None:
        """Upload when due: new bytes, and either doubled in size or waited long enough for it."""
        if self.file.held:
            self.file.flush()
        size = self.size
        if size == self.uploaded_size:
            return
        waited = time.monotonic() - self.last_upload
        if waited < self.MIN_INTERVAL:
            return
        due = min(self.MAX_INTERVAL, max(self.MIN_INTERVAL, size / self.TRICKLE_RATE))
        if size < 2 * max(self.uploaded_size, 64 * 1024) and waited < due:
            return
        self._upload(size)

    def _upload(self, size: int) -> None:
        with open(self.spool, "rb") as f:
            self.rest.upload_artifact(self.run, self.artifact_path, _Limited(f, size))
        self.uploaded_size = size
        self.shipped += size
        self.last_upload = time.monotonic()

    def finish(self, wait: float = SPACE_WAIT) -> str | None:
        """Write and upload the rest; why the log on the server is not whole, or None."""
        problem = self.file.finish(wait)
        if problem:
            return problem
        if self.size != self.uploaded_size or self.size == 0:
            try:
                self._upload(self.size)
            except Exception as exc:
                return (f"The {self.what} could not be uploaded ({self.size - self.uploaded_size} "
                        f"bytes not shipped): {redact(str(exc))[:300]}")
        return None

    def close(self) -> None:
        self.finish(0)


class _Limited:
    """A file object that reads at most ``limit`` bytes (the spool may grow while uploading)."""

    def __init__(self, f, limit: int) -> None:
        self._f = f
        self._left = limit
        self.len = limit  # requests uses it for Content-Length

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def tell(self) -> int:
        return self._f.tell()

    def seek(self, pos: int, whence: int = 0) -> int:
        result = self._f.seek(pos, whence)
        self._left = self.len - self._f.tell()
        return result


def make_sink(rest: MlflowRest, run: RunRecord, artifact_path: str, local_artifacts: str | None,
              spool_dir: Path) -> AppendSink | UploadSink:
    """The cheapest sink that works for this run."""
    what = f"log {artifact_path!r} of run {run.run_id}"
    target = local_artifact_file(local_artifacts, run, artifact_path)
    if target is not None:
        try:
            return AppendSink(target, what)
        except OSError:
            pass
    spool = spool_dir / artifact_path.replace("/", "_")
    try:
        return UploadSink(rest, run, artifact_path, spool, what)
    except OSError as exc:
        raise OSError(exc.errno, f"The {what} cannot be spooled to {str(spool)!r}: "
                      f"{os.strerror(exc.errno) if exc.errno else exc}") from None

