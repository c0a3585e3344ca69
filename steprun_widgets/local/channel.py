"""The local channel between a step and its runner: an append-only JSON-lines file.

The step (:class:`ChannelWriter`, used by ``Run.get_context()``) appends each call's records with
one ``os.write`` on an ``O_APPEND`` descriptor under a lock, so whatever a call returned from is in
the file even if the step is SIGKILLed right after, and threads never interleave lines. Files a
step logs (``log_image``, ``upload_file``) are copied under ``files/`` beside it first. The runner
(:class:`ChannelReader`) reads complete lines only, from the offset it has shipped up to.

Records, one JSON object a line:

``{"m": name, "v": value, "t": ms, "s": step}``  a metric value (NaN/Infinity as JSON allows)
``{"tag": key, "v": value}``                       a tag
``{"desc": name, "d": text}``                      the description of a metric (or table)
``{"table": name, "cols": [column, ...]}``         columns of a table (``log_row``/``log_table``)
``{"list": name}``                                 a metric logged with ``log_list``
``{"file": artifact path, "src": name}``          a file copied to ``files/<name>``
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import IO

CHANNEL_FILE = "channel.jsonl"
FILES_DIR = "files"
#: The runner reads at most this much of the channel at once (its memory stays bounded).
READ_CHUNK = 1 << 20


def encode(record: dict) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


class ChannelWriter:
    """The step's end: appends records, copies files in. Safe to share between threads."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.files = self.path.parent / FILES_DIR
        self._lock = threading.Lock()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def send(self, data: bytes) -> None:
        """Append encoded records (whole lines): one write, under the lock."""
        with self._lock:
            view = memoryview(data)
            while view:  # a regular file takes it whole; loop only for a short write (disk full...)
                view = view[os.write(self._fd, view):]

    def add_file(self, source: str | os.PathLike | IO) -> str:
        """Copy a file (a path, or a binary/text stream) into the channel; the name it got."""
        self.files.mkdir(exist_ok=True)
        name = uuid.uuid4().hex
        tmp = self.files / f".{name}.part"
        if isinstance(source, (str, os.PathLike)):
            shutil.copyfile(source, tmp)
        else:
            with open(tmp, "wb") as out:
                while chunk := source.read(1 << 16):
                    out.write(chunk.encode() if isinstance(chunk, str) else chunk)
        os.replace(tmp, self.files / name)
        return name


class ChannelReader:
    """The runner's end: complete records after the last offset it was told was shipped."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.files = self.path.parent / FILES_DIR
        #: Offset just past the last record handed out by :meth:`read`.
        self.read_offset = 0

    def read(self, limit: int = READ_CHUNK) -> list[tuple[dict, int]]:
        """The next complete records (at most about ``limit`` bytes), each with its end offset."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.read_offset)
                data = f.read(limit)
                if b"\n" not in data:  # a record longer than limit: read on to its end
                    while more := f.read(limit):
                        data += more
                        if b"\n" in more:
                            break
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        records: list[tuple[dict, int]] = []
        offset = self.read_offset
        for line in data[:end + 1].splitlines(keepends=True):
            offset += len(line)
            try:
                record = json.loads(line)
            except ValueError:  # never written by ChannelWriter; skip rather than stall
                continue
            if isinstance(record, dict):
                records.append((record, offset))
        self.read_offset = offset
        return records
