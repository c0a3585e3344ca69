"""One poller per kernel: a daemon thread that refreshes every watched run with batched requests.

Each tick asks, per experiment, one ``runs/search`` for all watched runs that are not final, then
reads only the logs whose published size grew. About once a second while something runs;
exponential backoff (capped) while the server cannot be reached, with the widgets told so; runs
that became final get one last refresh and are dropped. Widgets are held weakly: a closed or
garbage-collected widget is not polled.

The poller never runs on the kernel's main thread, so a slow or silent server never blocks a cell;
a request still unanswered after ``SLOW_AFTER`` seconds makes its widgets say "the server is not
answering" at once, before the request's own timeout ends it.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Iterator
from typing import Protocol

from steprun_widgets.errors import StepRunError, redact
from steprun_widgets.widgets.watch import StepWatch

INTERVAL = 1.0
MAX_BACKOFF = 30.0
#: Seconds a poll may wait for the server before its widgets say it is not answering.
SLOW_AFTER = 3.0


class Watcher(Protocol):
    """What the poller needs of a widget."""

    watch: StepWatch

    def _on_record(self, record) -> None: ...

    def _on_connection(self, ok: bool, detail: str) -> None: ...


class Poller:
    """Refreshes registered widgets from a background thread (started on first use)."""

    def __init__(self, interval: float = INTERVAL, max_backoff: float = MAX_BACKOFF) -> None:
        self.interval = interval
        self.max_backoff = max_backoff
        self._widgets: weakref.WeakSet = weakref.WeakSet()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.ticks = 0

    def register(self, widget: Watcher) -> None:
        with self._wake:
            self._widgets.add(widget)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="steprun-poller", daemon=True)
                self._thread.start()
            self._wake.notify_all()

    def unregister(self, widget: Watcher) -> None:
        with self._wake:
            self._widgets.discard(widget)

    def watched(self) -> list[Watcher]:
        with self._wake:
            return [w for w in list(self._widgets) if not w.watch.final]

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not any(not w.watch.final for w in list(self._widgets)):
                    self._wake.wait()
            ok = self.tick()
            delay = self.interval if ok else min(self.max_backoff, self.interval * 2 ** self.failures)
            time.sleep(delay)

    def tick(self, widgets: list[Watcher] | None = None) -> bool:
        """One refresh of the given (default: all watched) widgets. False when the server failed."""
        # A final run never changes again: it had its last refresh (refresh() on it is free).
        widgets = self.watched() if widgets is None else [w for w in widgets if not w.watch.final]
        groups: dict[tuple[int, str], list[Watcher]] = defaultdict(list)
        ok = True
        for widget in widgets:
            watch = widget.watch
            if hasattr(watch, "poll"):  # a pipeline: its own two requests (see PipelineWatch.poll)
                ok &= self._refresh_self(widget)
                continue
            groups[(id(watch.rest), watch.experiment_id or "")].append(widget)
        for (_, experiment_id), members in groups.items():
            ok &= self._refresh_group(experiment_id, members)
        self.ticks += 1
        self.failures = 0 if ok else self.failures + 1
        return ok

    def _refresh_group(self, experiment_id: str, members: list[Watcher]) -> bool:
        with _not_answering_notice(members):
            return self._refresh_group_now(experiment_id, members)

    def _refresh_group_now(self, experiment_id: str, members: list[Watcher]) -> bool:
        rest = members[0].watch.rest
        ids = sorted({w.watch.run_id for w in members})
        try:
            quoted = ", ".join(f"'{i}'" for i in ids)
            records = {r.run_id: r for r in rest.search_runs(
                [experiment_id], f"attributes.run_id IN ({quoted})", max_results=len(ids))}
            for widget in members:
                record = records.get(widget.watch.run_id)
                if record is None:
                    continue
                widget._on_connection(True, "")
                widget._on_record(record)
        except StepRunError as exc:
            detail = redact(str(exc))
            for widget in members:
                widget._on_connection(False, detail)
            return False
        return True

    @staticmethod
    def _refresh_self(widget) -> bool:
        try:
            with _not_answering_notice([widget]):
                widget._on_poll()
        except StepRunError as exc:
            widget._on_connection(False, redact(str(exc)))
            return False
        widget._on_connection(True, "")
        return True


@contextlib.contextmanager
def _not_answering_notice(widgets: list[Watcher]) -> Iterator[None]:
    """While the block runs longer than SLOW_AFTER, the widgets say the server is not answering."""
    rest = getattr(widgets[0].watch, "rest", None) if widgets else None
    where = getattr(getattr(rest, "transport", None), "display_url", "the tracking server")

    def notice() -> None:
        for widget in widgets:
            with contextlib.suppress(Exception):
                widget._on_connection(False, f"the server at {where} is not answering "
                                             f"(waiting more than {SLOW_AFTER:g} s)")

    timer = threading.Timer(SLOW_AFTER, notice)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


_poller: Poller | None = None
_lock = threading.Lock()


def get_poller() -> Poller:
    """The kernel's one poller."""
    global _poller
    with _lock:
        if _poller is None:
            _poller = Poller()
        return _poller
