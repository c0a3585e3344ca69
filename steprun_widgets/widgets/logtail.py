"""One log stream as a widget sees it: a bounded tail, message numbering and a sparse line index.

The kernel never keeps a whole log: it keeps the last ``tail_lines`` lines (what the saved notebook
holds) and the byte offset of every ``INDEX_EVERY``-th line, so earlier lines can be fetched
again from the server with one ranged read when the browser asks for them.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from dataclasses import dataclass, field

from steprun_widgets.core.logs import LogChunk, LogReader

INDEX_EVERY = 1000
#: Bounds on what the synced tail holds, whatever the lines look like (a 10 MB line...).
MAX_LINE_CHARS = 8_000
MAX_TAIL_CHARS = 400_000
#: Above this much new text in one refresh, the browser gets a snapshot of the tail instead.
MAX_MESSAGE_CHARS = 4_000_000
_NEWLINE = re.compile(b"\n")


@dataclass
class LogTail:
    """The state of one stream: the reader, the tail and what the browser was sent."""

    reader: LogReader
    tail_lines: int = 2000
    lines: deque = field(default_factory=deque)
    partial: str = ""
    complete_lines: int = 0
    seq: int = 0
    #: Byte offset where line ``k * INDEX_EVERY`` starts.
    index: list[int] = field(default_factory=lambda: [0])

    def __post_init__(self) -> None:
        self.lines = deque(maxlen=self.tail_lines)

    @property
    def total_bytes(self) -> int:
        return self.reader.offset

    @property
    def first_line(self) -> int:
        return self.complete_lines - len(self.lines)

    def pull(self, final: bool = False) -> list[dict]:
        """Read what is new on the server; return the messages that tell the browser."""
        chunk = self.reader.read_new(final=final)
        return self.feed(chunk)

    def feed(self, chunk: LogChunk) -> list[dict]:
        stream = self.name
        messages: list[dict] = []
        if chunk.reset:
            self._clear()
            self.seq += 1
            messages.append({"type": "log_reset", "stream": stream, "seq": self.seq})
        if not chunk.text:
            return messages
        self._index(chunk)
        text = self.partial + chunk.text
        pieces = text.split("\n")
        self.partial = pieces.pop()
        self.lines.extend(pieces)
        self.complete_lines += len(pieces)
        self.seq += 1
        if len(chunk.text) > MAX_MESSAGE_CHARS:
            messages.append(self.snapshot_message())
        else:
            messages.append({"type": "log", "stream": stream, "text": chunk.text, "seq": self.seq})
        return messages

    @property
    def name(self) -> str:
        return self.reader.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]

    def _clear(self) -> None:
        self.lines.clear()
        self.partial = ""
        self.complete_lines = 0
        self.index = [0]

    def _index(self, chunk: LogChunk) -> None:
        """Record the byte offset of every INDEX_EVERY-th line start in the new bytes."""
        seen = self.complete_lines
        count = chunk.raw.count(b"\n")
        next_mark = len(self.index) * INDEX_EVERY  # the line number whose start we look for next
        if seen + count < next_mark:
            return
        newlines = _NEWLINE.finditer(chunk.raw)
        skip = next_mark - seen - 1  # the newline that ends line next_mark - 1
        for match in itertools.islice(newlines, skip, None, INDEX_EVERY):
            self.index.append(chunk.start + match.end())

    def state(self) -> dict:
        """What the synced ``logs`` trait holds for this stream (bounded in lines and size).

        ``tail`` is the exact text from the start of line ``first_line`` on (complete lines keep
        their newline, the unfinished last line has none), so live text continues it as is.
        """
        pieces = [_clip(line) + "\n" for line in self.lines]
        if self.partial:
            pieces.append(_clip(self.partial))
        size = sum(len(p) for p in pieces)
        start = 0
        while size > MAX_TAIL_CHARS and start < len(pieces) - 1:
            size -= len(pieces[start])
            start += 1
        return {"tail": "".join(pieces[start:]), "first_line": self.first_line + start,
                "total_bytes": self.total_bytes, "seq": self.seq}

    def snapshot_message(self) -> dict:
        state = self.state()
        return {"type": "log_snapshot", "stream": self.name, "tail": state["tail"],
                "first_line": state["first_line"], "seq": self.seq}

    def older_lines(self, before_line: int, count: int, chunk_bytes: int = 1 << 20) -> dict:
        """Lines ``[before_line - count, before_line)`` fetched again from the server."""
        before_line = max(0, min(before_line, self.complete_lines))
        start_line = max(0, before_line - max(0, count))
        block = min(start_line // INDEX_EVERY, len(self.index) - 1)
        offset = self.index[block]
        need = before_line - block * INDEX_EVERY  # lines to read from that offset
        data = b""
        rest = self.reader.rest
        run = self.reader.run
        while data.count(b"\n") < need and offset + len(data) < self.reader.offset:
            got = rest.read_range(run, self.reader.path, offset + len(data), chunk_bytes)
            if not got or not got[0]:
                break
            data += got[0]
        text_lines = data.decode("utf-8", errors="replace").split("\n")
        first = start_line - block * INDEX_EVERY
        return {"type": "older_lines", "stream": self.name, "start_line": start_line,
                "lines": text_lines[first:need]}


def _clip(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return line[:MAX_LINE_CHARS] + f"… [{len(line) - MAX_LINE_CHARS} more characters]"
