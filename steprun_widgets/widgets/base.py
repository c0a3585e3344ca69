"""What both widgets share: the run's identity, status, times, error and connection state."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import anywidget
import traitlets

from steprun_widgets.widgets.comm_route import route_off_main_thread
from steprun_widgets.widgets.display import SnapshotDisplay
from steprun_widgets.widgets.frontend import MESSAGE, Bundle, esm_for, hot_reload


class RunWidget(SnapshotDisplay, anywidget.AnyWidget):
    """Base of StepRunWidget and PipelineRunWidget: the synced traits of any run."""

    run_id = traitlets.Unicode("").tag(sync=True)
    name = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("NotStarted").tag(sync=True)
    start_time = traitlets.Float(None, allow_none=True).tag(sync=True)
    end_time = traitlets.Float(None, allow_none=True).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    connection = traitlets.Unicode("ok").tag(sync=True)
    connection_detail = traitlets.Unicode("").tag(sync=True)

    #: The frontend bundle of the subclass (frontend.py: whole in one widget, a loader in the others).
    _frontend: ClassVar[Bundle]

    def __init__(self, **kwargs: Any) -> None:
        if not hot_reload():  # else the class's _esm and _css: the files' paths, for live reload
            self._esm = esm_for(self, self._frontend)
            self._css = ""  # the loader adds the bundle's CSS, once per page
        super().__init__(**kwargs)
        self.on_msg(self._serve_frontend)
        # clicks are answered while a cell blocks the kernel (a subshell thread handles them)
        self.serves_while_busy = route_off_main_thread(self)

    def _serve_frontend(self, _widget: Any, content: Any, _buffers: list[bytes]) -> None:
        """A loader that found no frontend code on its page asks for it (js/src/loader.js)."""
        if isinstance(content, dict) and content.get("type") == MESSAGE:
            self.send(self._frontend.reply())

    def wait_for_completion(self, show_output: bool = False, timeout_seconds: float = sys.maxsize,
                            raise_on_error: bool = True) -> str:
        """Wait for the run shown to end, then bring this view and its saved snapshot up to date.

        For notebooks built with ``jupyter nbconvert --execute`` (course material, reports): a
        cell runs ``widget.wait_for_completion()`` after the one that displayed ``widget``, and the
        saved notebook shows the run's final state (the snapshot's last update arrives while this
        cell still runs, so nbclient keeps it). Returns the final status, as the run's own
        ``wait_for_completion`` does (``show_output`` streams the log lines as text too).
        """
        run = self._run()
        try:
            return run.wait_for_completion(show_output=show_output, timeout_seconds=timeout_seconds,
                                           raise_on_error=raise_on_error)
        finally:
            self.refresh()  # the final record: traits, logs, the open step view
            self._refresh_companion(force=True)  # sent from this cell, whoever refreshed last

    def _run(self) -> Any:
        """The StepRun or PipelineRun this widget shows."""
        raise NotImplementedError

    def refresh(self) -> RunWidget:
        raise NotImplementedError

    def _on_connection(self, ok: bool, detail: str) -> None:
        """The poller's word on the server: "reconnecting" (with why) while it cannot be reached."""
        state = ("ok", "") if ok else ("reconnecting", detail)
        if (self.connection, self.connection_detail) != state:
            with self.hold_sync():
                self.connection, self.connection_detail = state

    def _update_traits(self, traits: dict) -> None:
        """Set the traits that changed (one sync message for all of them)."""
        with self.hold_sync():
            for key, value in traits.items():
                if getattr(self, key) != value:
                    setattr(self, key, value)
