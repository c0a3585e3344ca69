"""What both widgets share: the run's identity, status, times, error and connection state."""

from __future__ import annotations

import anywidget
import traitlets

from steprun_widgets.widgets.display import SnapshotDisplay


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
