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


class AppendSink:
    """Appends bytes straight to the artifact file in a local artifact store."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115
        self.shipped = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self.shipped += len(data)

    @property
    def visible_size(self) -> int:
        """Bytes a reader can see on the server now."""
        return self.shipped

    def tick(self) -> None:
        """Nothing to do: bytes are visible as soon as they are written."""

    def close(self) -> None:
        self._file.close()


class UploadSink:
    """Spools bytes locally and re-uploads the whole file when it has grown enough."""

    MIN_INTERVAL = 1.0
    MAX_INTERVAL = 10.0
    #: A log that has not doubled is uploaded again after size / TRICKLE_RATE seconds (within
    #: MIN_INTERVAL..MAX_INTERVAL): small logs every second, re-upload traffic bounded.
    TRICKLE_RATE = 64 * 1024

    def __init__(self, rest: MlflowRest, run: RunRecord, artifact_path: str, spool: Path) -> None:
        self.rest = rest
        self.run = run
        self.artifact_path = artifact_path
        spool.parent.mkdir(parents=True, exist_ok=True)
        self.spool = spool
        self._file = open(spool, "ab", buffering=0)  # noqa: SIM115
        self._lock = threading.Lock()
        self.size = 0
        self.uploaded_size = 0
        self.last_upload = 0.0
        #: Total bytes sent over HTTP for this log (the re-upload cost).
        self.shipped = 0

    def write(self, data: bytes) -> None:
        with self._lock:
            self._file.write(data)
            self.size += len(data)

    @property
    def visible_size(self) -> int:
        return self.uploaded_size

    def tick(self) -> None:
        """Upload when due: new bytes, and either doubled in size or waited long enough for it."""
        with self._lock:
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

    def close(self) -> None:
        self._file.close()
        if self.size != self.uploaded_size or self.size == 0:
            self._upload(self.size)


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
    target = local_artifact_file(local_artifacts, run, artifact_path)
    if target is not None:
        try:
            return AppendSink(target)
        except OSError:
            pass
    return UploadSink(rest, run, artifact_path, spool_dir / artifact_path.replace("/", "_"))

