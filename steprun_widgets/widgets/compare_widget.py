"""RunComparison: two or more runs side by side (``steprun_widgets.compare(*runs)``)."""

from __future__ import annotations

import threading
from typing import Any

import anywidget
import traitlets

from steprun_widgets.core.compare import MANY_RUNS, Member, build_state, check_runs, first_log_difference
from steprun_widgets.errors import StepRunError
from steprun_widgets.widgets.display import SnapshotDisplay, asset
from steprun_widgets.widgets.frontend import MESSAGE, Bundle, esm_for, hot_reload
from steprun_widgets.widgets.poller import get_poller


class CompareWatch:
    """What the poller refreshes: every compared run that is not final, each tick."""

    def __init__(self, members: list[Member]) -> None:
        self.members = members
        self.lock = threading.Lock()
        self.final = False

    def poll(self) -> dict:
        with self.lock:
            for member in self.members:
                member.refresh()
            self.final = all(m.final for m in self.members)
            state = build_state(self.members)
            state["live"] = not self.final
            return state


class RunComparison(SnapshotDisplay, anywidget.AnyWidget):
    """Two or more PipelineRuns or StepRuns side by side: steps matched by name, the parameters
    that differ first, one chart per metric with a line per run, final values with the best
    marked, outputs and whether their bytes differ, and for two step runs the first differing
    stdout line. Live while any run goes on (the kernel's one poller); ``to_html()`` is its
    static snapshot. Display it as the last expression of a cell."""

    _esm = asset("compare_widget.js")
    _css = asset("compare_widget.css")
    _frontend = Bundle("compare_widget")
    _snapshot_kind = "compare"

    runs = traitlets.List().tag(sync=True)
    steps = traitlets.List().tag(sync=True)
    params = traitlets.List().tag(sync=True)
    finals = traitlets.Dict().tag(sync=True)
    charts = traitlets.List().tag(sync=True)
    outputs = traitlets.List().tag(sync=True)
    log_diff = traitlets.Dict().tag(sync=True)
    #: More than two runs: ``{"columns", "rows"}`` of the sortable table and the parallel coordinates.
    sweep = traitlets.Dict().tag(sync=True)
    live = traitlets.Bool(False).tag(sync=True)
    connection = traitlets.Unicode("ok").tag(sync=True)
    connection_detail = traitlets.Unicode("").tag(sync=True)

    def __init__(self, *runs: Any, poll: bool = True, **kwargs: Any) -> None:
        compared = check_runs(runs)
        if not hot_reload():
            self._esm = esm_for(self, self._frontend)
            self._css = ""
        super().__init__(**kwargs)
        self.on_msg(self._serve_frontend)
        self.compared = compared
        details = len(compared) <= MANY_RUNS
        self.watch = CompareWatch([Member(r, details=details) for r in compared])
        self._apply(self.watch.poll())
        if poll and not self.watch.final:
            get_poller().register(self)

    @property
    def status(self) -> str:
        """"Running" while any compared run goes on, else "Finished" (the snapshot's refresh key)."""
        return "Running" if self.live else "Finished"

    @property
    def run_id(self) -> str:
        return ",".join(r["id"][:8] for r in self.runs)

    def _serve_frontend(self, _widget: Any, content: Any, _buffers: list[bytes]) -> None:
        if isinstance(content, dict) and content.get("type") == MESSAGE:
            self.send(self._frontend.reply())

    def _apply(self, state: dict) -> None:
        two_steps = len(self.compared) == 2 and all(m.kind == "step" for m in self.watch.members)
        if two_steps and (self.watch.final or not self.log_diff):  # whole logs: read once, again at the end
            a, b = self.compared
            diff = first_log_difference(a.get_stdout_log(), b.get_stdout_log())
            state["log_diff"] = {"log": "stdout", "same": diff is None, **(diff or {})}
        with self.hold_sync():
            for key, value in state.items():
                if getattr(self, key) != value:
                    setattr(self, key, value)
        self._refresh_companion(force=not self.live)

    # --- poller callbacks -----------------------------------------------------------------------
    def _on_poll(self) -> None:
        self._apply(self.watch.poll())

    def _on_connection(self, ok: bool, detail: str) -> None:
        state = ("ok", "") if ok else ("reconnecting", detail)
        if (self.connection, self.connection_detail) != state:
            self.connection, self.connection_detail = state

    def refresh(self) -> RunComparison:
        """Refresh from the server now, on this thread (what the poller does each tick)."""
        get_poller().tick([self])
        return self

    def snapshot_state(self) -> dict:
        return {key: getattr(self, key) for key in
                ("runs", "steps", "params", "finals", "charts", "outputs", "log_diff", "sweep",
                 "live")}

    def to_html(self) -> str:
        from steprun_widgets.widgets.snapshot_compare import compare_html

        return compare_html(self.snapshot_state())

    def close(self) -> None:
        get_poller().unregister(self)
        super().close()


def compare(*runs: Any, poll: bool = True) -> RunComparison:
    """A ``RunComparison`` of two or more PipelineRuns or StepRuns (see ``RunComparison``)."""
    if len(runs) == 1 and isinstance(runs[0], (list, tuple)):
        runs = tuple(runs[0])
    if not runs:
        raise StepRunError("compare() needs two or more runs, got none")
    return RunComparison(*runs, poll=poll)
