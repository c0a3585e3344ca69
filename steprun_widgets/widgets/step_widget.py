"""StepRunWidget: a step run's live status, logs and outputs in a notebook (anywidget)."""

from __future__ import annotations

from typing import Any

import traitlets

from steprun_widgets.core.rest import RunRecord
from steprun_widgets.core.runs import StepRun
from steprun_widgets.errors import StepRunError
from steprun_widgets.widgets.base import RunWidget
from steprun_widgets.widgets.display import asset
from steprun_widgets.widgets.frontend import Bundle
from steprun_widgets.widgets.poller import get_poller
from steprun_widgets.widgets.step_view import LOGS_SYNC_EVERY, StepSession

__all__ = ["StepRunWidget", "LOGS_SYNC_EVERY"]


class StepRunWidget(RunWidget):
    """Shows one StepRun: status badge, elapsed time, metrics, parameters, images, stdout/stderr/job
    logs, outputs to download.

    Display it as the last expression of a cell. One kernel-wide poller keeps it current until the
    run is final; ``refresh()`` does one refresh now (for scripts and tests).
    """

    _esm = asset("step_widget.js")
    _css = asset("step_widget.css")
    _frontend = Bundle("step_widget")

    reuse = traitlets.Dict().tag(sync=True)
    outputs = traitlets.List().tag(sync=True)
    #: The outputs of a run of another tool are listed only when the view asks (``list_outputs``).
    outputs_on_request = traitlets.Bool(False).tag(sync=True)
    logs = traitlets.Dict().tag(sync=True)
    tail_lines = traitlets.Int(2000).tag(sync=True)
    #: ``{name: {"points": [[step, value, ts], ...] (at most 500), "count", "seq", "description"}}``
    metrics = traitlets.Dict().tag(sync=True)
    params = traitlets.Dict().tag(sync=True)
    images = traitlets.List().tag(sync=True)

    def __init__(self, step_run: StepRun, *, tail_lines: int = 2000, poll: bool = True,
                 **kwargs: Any) -> None:
        if not isinstance(step_run, StepRun):
            raise StepRunError(f"StepRunWidget needs a StepRun, got {type(step_run).__name__}")
        super().__init__(tail_lines=tail_lines, **kwargs)
        self.step_run = step_run
        # looked up at each call: tests put a recorder in place of ``send``
        self.session = StepSession(step_run, tail_lines, lambda c, b=None: self.send(c, b), self._publish)
        self.watch = self.session.watch
        self.on_msg(self._handle_message)
        self.session.start()
        if poll and not self.watch.final:
            get_poller().register(self)

    # --- poller callbacks (poller thread) -------------------------------------------------------
    def _on_record(self, record: RunRecord) -> None:
        self.session.on_record(record)

    def _publish(self, traits: dict, final: bool) -> None:
        self._update_traits(traits)
        self._refresh_companion(force=final)

    def snapshot_state(self) -> dict:
        """Status, reuse, error, outputs and the current log tails (see ``to_html``)."""
        state = {key: getattr(self, key) for key in
                 ("run_id", "name", "status", "start_time", "end_time", "error", "reuse", "outputs",
                  "outputs_on_request", "params", "images")}
        state["logs"] = self.watch.logs_state()
        state["metrics"] = self.watch.metrics_state()
        return state

    def _run(self) -> Any:
        return self.step_run

    def refresh(self) -> StepRunWidget:
        """Refresh from the server now, on this thread (what the poller does each tick)."""
        get_poller().tick([self])
        return self

    def _handle_message(self, _widget: Any, content: dict, buffers: list[bytes]) -> None:
        self.session.handle(content, buffers)

    def _list_outputs(self) -> None:
        """What the view's "List outputs" asks for, on this thread (see StepSession)."""
        self.session._list_outputs()

    @property
    def _downloads(self) -> dict:
        """The transfers in flight, by request id (see StepSession)."""
        return self.session._downloads

    def close(self) -> None:
        get_poller().unregister(self)
        # getattr: ipywidgets' __del__ closes a widget whose __init__ failed before session was set
        session = getattr(self, "session", None)
        if session is not None:
            session.close()
        super().close()
