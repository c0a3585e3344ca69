"""Incremental log reading: each refresh costs the new bytes only (HTTP Range).

A :class:`LogReader` keeps its byte offset in one artifact, asks the server for what lies beyond
it, and decodes UTF-8 incrementally so a multi-byte character split between two reads is never
broken, dropped or repeated.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass

from steprun_widgets.core.rest import MlflowRest, RunRecord

#: Upper bound of one ranged read; a larger backlog is fetched in several reads.
MAX_READ = 8 * 1024 * 1024


@dataclass
class LogChunk:
    """What one refresh found: new text, and whether the log started over first."""

    text: str = ""
    reset: bool = False
    new_bytes: int = 0
    #: Byte offset in the log where ``raw`` starts, and the raw bytes read (for line indexes).
    start: int = 0
    raw: bytes = b""


class LogReader:
    """Follows one log artifact of one run, from byte 0 onwards."""

    def __init__(self, rest: MlflowRest, run: RunRecord | Callable[[], RunRecord], path: str) -> None:
        self.rest = rest
        self._run = run
        self.path = path
        self.offset = 0
        #: Size the server last reported (None until known).
        self.size: int | None = None
        self.resets = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        #: What a call read before a later request of the same call failed: the next call returns it.
        self._held: tuple[LogChunk, list[str], list[bytes]] | None = None

    @property
    def run(self) -> RunRecord:
        return self._run() if callable(self._run) else self._run

    def read_new(self, max_bytes: int | None = None, *, final: bool = False) -> LogChunk:
        """Fetch and decode what was written since the last call.

        A log that does not exist yet reads as empty. A log that became shorter than what was
        already read was replaced: reading starts again at byte 0 and ``reset`` is set.
        ``final=True`` flushes bytes held back at the end (a truncated character becomes U+FFFD).
        When a request fails after others of the same call succeeded, the error is raised and what
        was read before it comes with the next call: no byte is lost or repeated.
        """
        if self._held is not None:
            (chunk, parts, raw), self._held = self._held, None
        else:
            chunk, parts, raw = LogChunk(start=self.offset), [], []
        try:
            self._read_into(chunk, parts, raw, max_bytes)
        except BaseException:
            if raw or chunk.reset:
                self._held = (chunk, parts, raw)
            raise
        if final:
            parts.append(self._decoder.decode(b"", final=True))
        chunk.text = "".join(parts)
        chunk.raw = b"".join(raw) if len(raw) != 1 else raw[0]
        return chunk

    def _read_into(self, chunk: LogChunk, parts: list[str], raw: list[bytes], budget: int | None) -> None:
        while budget is None or budget > 0:
            want = MAX_READ if budget is None else min(MAX_READ, budget)
            got = self.rest.read_range(self.run, self.path, self.offset, want)
            if got is None:  # not there (yet)
                break
            data, total = got
            if total is not None:
                self.size = total
            if not data:
                if total is not None and total < self.offset:
                    self._restart(chunk, parts, raw)
                    continue
                break
            self.offset += len(data)
            chunk.new_bytes += len(data)
            raw.append(data)
            parts.append(self._decoder.decode(data))
            if budget is not None:
                budget -= len(data)
            if len(data) < want or (total is not None and self.offset >= total):
                break

    def read_all(self) -> str:
        """Everything there is now (for ``get_stdout_log`` and friends)."""
        return self.read_new(final=True).text

    def _restart(self, chunk: LogChunk, parts: list[str], raw: list[bytes]) -> None:
        self.offset = 0
        self.resets += 1
        self._decoder.reset()
        parts.clear()
        raw.clear()
        chunk.reset = True
        chunk.start = 0
