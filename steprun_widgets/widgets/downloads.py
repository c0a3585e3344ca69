"""Click-to-download: stream an output's bytes to the browser over the widget's comm.

The browser may not reach the tracking server, so the kernel fetches the artifact and forwards it
in chunks (binary buffers). A folder output becomes a zip built while streaming (``zipfile`` on an
unseekable stream). The kernel keeps at most ``WINDOW`` bytes un-acknowledged by the browser, so
its memory stays bounded whatever the size of the output.
"""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from collections.abc import Callable
from typing import Any

from steprun_widgets.core.outputs import relative_output_path
from steprun_widgets.core.runs import StepRun
from steprun_widgets.errors import StepRunError, redact

CHUNK = 1 << 20
WINDOW = 8 << 20
ACK_TIMEOUT = 120.0

Send = Callable[[dict, list[bytes] | None], None]


class Canceled(Exception):
    """The browser canceled the download or stopped acknowledging it."""


class ChunkSender(io.RawIOBase):
    """A writable stream that sends what is written as ``download_chunk`` messages, with flow control."""

    def __init__(self, send: Send, request_id: str, window: int = WINDOW, chunk: int = CHUNK) -> None:
        self._send = send
        self.request_id = request_id
        self.window = window
        self.chunk = chunk
        self._buffer = bytearray()
        self.sent = 0
        self.acked = 0
        self.canceled = False
        self._cond = threading.Condition()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buffer += data
        while len(self._buffer) >= self.chunk:
            self._emit(bytes(self._buffer[: self.chunk]))
            del self._buffer[: self.chunk]
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            self._emit(bytes(self._buffer))
            self._buffer.clear()

    def ack(self, received: int) -> None:
        with self._cond:
            self.acked = max(self.acked, received)
            self._cond.notify_all()

    def cancel(self) -> None:
        with self._cond:
            self.canceled = True
            self._cond.notify_all()

    def _emit(self, data: bytes) -> None:
        with self._cond:
            deadline = time.monotonic() + ACK_TIMEOUT
            while self.sent - self.acked >= self.window and not self.canceled:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Canceled("the browser stopped receiving the download")
                self._cond.wait(left)
            if self.canceled:
                raise Canceled("download canceled")
        self.sent += len(data)
        self._send({"type": "download_chunk", "request_id": self.request_id, "received": self.sent},
                   [data])


def plan_download(step_run: StepRun, output_name: str) -> tuple[str, list[tuple[str, Any]], bool]:
    """Filename, (relative path, file info) pairs, and whether it is zipped, for one output."""
    output = step_run.get_output(output_name)
    files = [(relative_output_path(output_name, f.path).as_posix(), f) for f in output.files]
    if not files:
        raise StepRunError(f"Output {output_name!r} of step run {step_run.id!r} has no files")
    if len(files) == 1 and "/" not in files[0][0]:
        return files[0][0], files, False
    return f"{output_name}.zip", files, True


def stream_output(step_run: StepRun, output_name: str, request_id: str, send: Send,
                  sender: ChunkSender) -> int:
    """Send one output to the browser; returns the bytes sent. Errors become ``download_error``."""
    try:
        filename, files, zipped = plan_download(step_run, output_name)
        size = None if zipped else files[0][1].file_size
        mime = "application/zip" if zipped else "application/octet-stream"
        send({"type": "download_start", "request_id": request_id, "filename": filename, "size": size,
              "mime": mime}, None)
        output = step_run.get_output(output_name)
        if zipped:
            with zipfile.ZipFile(sender, mode="w", compression=zipfile.ZIP_DEFLATED,
                                 compresslevel=1) as archive:
                for rel, info in files:
                    with archive.open(f"{output_name}/{rel}", "w", force_zip64=True) as member, \
                            output.open_file(info) as response:
                        for chunk in response.iter_content(CHUNK):
                            member.write(chunk)
        else:
            with output.open_file(files[0][1]) as response:
                for chunk in response.iter_content(CHUNK):
                    sender.write(chunk)
        sender.flush()
        send({"type": "download_end", "request_id": request_id, "bytes": sender.sent}, None)
        return sender.sent
    except Exception as exc:  # the widget says why; nothing else breaks
        _send_failure(send, request_id, f"Download of {output_name!r}", exc)
        return sender.sent


def log_filename(step_run: StepRun, stream: str) -> str:
    """``<step name>-<stream>.txt``, with characters a file name cannot hold replaced."""
    base = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", step_run.name or step_run.id).strip(". ") or "step"
    return f"{base[:100]}-{stream}.txt"


def stream_log(step_run: StepRun, stream: str, request_id: str, send: Send, sender: ChunkSender) -> int:
    """Send a whole log (the view holds only a bounded tail) with the download messages.

    Reads in ranges of ``CHUNK`` up to the size the first read reported, so a log that grows
    meanwhile still arrives as one consistent prefix. An absent log is an empty file.
    """
    try:
        paths = step_run.log_paths()
        if stream not in paths:
            raise StepRunError(f"Step run {step_run.id!r} has no log named {stream!r} "
                               f"(logs: {', '.join(sorted(paths)) or 'none'})")
        rest = step_run._rest
        run = step_run._record()
        first = rest.read_range(run, paths[stream], 0, CHUNK)
        data, total = first if first is not None else (b"", 0)
        total = len(data) if total is None else total
        send({"type": "download_start", "request_id": request_id, "filename": log_filename(step_run, stream),
              "size": total, "mime": "text/plain; charset=utf-8"}, None)
        pos = 0
        while data and pos < total:
            data = data[: total - pos]
            sender.write(data)
            pos += len(data)
            if pos >= total:
                break
            more = rest.read_range(run, paths[stream], pos, CHUNK)
            data = more[0] if more is not None else b""
        sender.flush()
        send({"type": "download_end", "request_id": request_id, "bytes": sender.sent}, None)
        return sender.sent
    except Exception as exc:  # the widget says why; nothing else breaks
        _send_failure(send, request_id, f"Reading the whole {stream} log", exc)
        return sender.sent


def _send_failure(send: Send, request_id: str, what: str, exc: Exception) -> None:
    """The ``download_error`` message for a transfer that broke: ``<what> failed: <reason>``."""
    reason = str(exc) if isinstance(exc, (StepRunError, Canceled)) else f"{type(exc).__name__}: {exc}"
    send({"type": "download_error", "request_id": request_id,
          "message": redact(f"{what} failed: {reason}")[:500]}, None)


__all__ = ["ChunkSender", "stream_output", "plan_download", "stream_log", "log_filename"]
