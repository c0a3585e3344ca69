"""StepRunWidget: a step run's live status, logs and outputs in a notebook (anywidget)."""

from __future__ import annotations

import threading
import time
from typing import Any

import traitlets

from steprun_widgets.core.rest import RunRecord
from steprun_widgets.core.runs import StepRun
from steprun_widgets.errors import StepRunError, redact
from steprun_widgets.widgets.base import RunWidget
from steprun_widgets.widgets.display import asset
from steprun_widgets.widgets.downloads import ChunkSender, stream_log, stream_output
from steprun_widgets.widgets.frontend import Bundle
from steprun_widgets.widgets.poller import get_poller
from steprun_widgets.widgets.save_local import save_output_locally
from steprun_widgets.widgets.snapshot import HIDE_COMPANION_CSS
from steprun_widgets.widgets.watch import StepWatch

#: The saved ``logs`` and ``metrics`` traits are refreshed this often while a run goes on (live text
#: and metric values go as messages).
LOGS_SYNC_EVERY = 10.0


class StepRunWidget(RunWidget):
    """Shows one StepRun: status badge, elapsed time, metrics, parameters, images, stdout/stderr/job
    logs, outputs to download.

    Display it as the last expression of a cell. One kernel-wide poller keeps it current until the
    run is final; ``refresh()`` does one refresh now (for scripts and tests).
    """

    _esm = asset("step_widget.js")
    _css = asset("step_widget.css", extra_css=HIDE_COMPANION_CSS)
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
        self.watch = StepWatch(step_run, tail_lines)
        self._downloads: dict[str, ChunkSender] = {}
        self._logs_synced_at = 0.0
        self.on_msg(self._handle_message)
        with self.watch.lock:
            traits, _ = self.watch.start()  # the first tail goes in the trait, not in messages
            self._set_state(traits, sync_logs=True)
        if poll and not self.watch.final:
            get_poller().register(self)

    # --- poller callbacks (poller thread) -------------------------------------------------------
    def _on_record(self, record: RunRecord) -> None:
        with self.watch.lock:
            traits, messages = self.watch.apply(record)
            for message in messages:
                self.send(message)
            due = time.monotonic() - self._logs_synced_at >= LOGS_SYNC_EVERY
            self._set_state(traits, sync_logs=self.watch.final or due)

    def _set_state(self, traits: dict, sync_logs: bool) -> None:
        if sync_logs:
            traits = {**traits, "logs": self.watch.logs_state(), "metrics": self.watch.metrics_state()}
            self._logs_synced_at = time.monotonic()
        self._update_traits(traits)
        self._refresh_companion(force=self.watch.final and sync_logs)

    def snapshot_state(self) -> dict:
        """Status, reuse, error, outputs and the current log tails (see ``to_html``)."""
        state = {key: getattr(self, key) for key in
                 ("run_id", "name", "status", "start_time", "end_time", "error", "reuse", "outputs",
                  "outputs_on_request", "params", "images")}
        state["logs"] = self.watch.logs_state()
        state["metrics"] = self.watch.metrics_state()
        return state

    def refresh(self) -> StepRunWidget:
        """Refresh from the server now, on this thread (what the poller does each tick)."""
        get_poller().tick([self])
        return self

    def close(self) -> None:
        get_poller().unregister(self)
        # getattr: ipywidgets' __del__ closes a widget whose __init__ failed before _downloads was set
        for sender in getattr(self, "_downloads", {}).values():
            sender.cancel()
        super().close()

    # --- browser messages -----------------------------------------------------------------------
    def _handle_message(self, _widget: Any, content: dict, buffers: list[bytes]) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "sync":
            with self.watch.lock:
                for message in self.watch.snapshots():
                    self.send(message)
        elif kind == "download":
            self._start_download(str(content.get("output", "")), str(content.get("request_id", "")))
        elif kind == "download_log":
            self._start_download(str(content.get("stream", "")), str(content.get("request_id", "")),
                                 log=True)
        elif kind == "download_ack":
            sender = self._downloads.get(str(content.get("request_id", "")))
            if sender is not None:
                sender.ack(int(content.get("received", 0)))
        elif kind == "download_cancel":
            sender = self._downloads.get(str(content.get("request_id", "")))
            if sender is not None:
                sender.cancel()
        elif kind == "save_local":
            threading.Thread(target=self._save_local, args=(content,), daemon=True).start()
        elif kind == "list_outputs":
            threading.Thread(target=self._list_outputs, daemon=True).start()
        elif kind == "older_lines":
            threading.Thread(target=self._send_older, args=(content,), daemon=True).start()

    def _start_download(self, output: str, request_id: str, log: bool = False) -> None:
        sender = ChunkSender(self.send, request_id)
        self._downloads[request_id] = sender

        def run() -> None:
            try:
                (stream_log if log else stream_output)(self.step_run, output, request_id, self.send, sender)
            finally:
                self._downloads.pop(request_id, None)

        threading.Thread(target=run, name=f"steprun-download-{output}", daemon=True).start()

    def _save_local(self, content: dict) -> None:
        message = save_output_locally(self.step_run, str(content.get("output", "")),
                                      content.get("path") or "")
        self.send({**message, "request_id": str(content.get("request_id", ""))})

    def _list_outputs(self) -> None:
        """List the outputs the view asked for; a failure is said beside the button."""
        try:
            with self.watch.lock:
                self._update_traits(self.watch.list_outputs())
                self._refresh_companion(force=True)  # the saved snapshot shows them too
        except Exception as exc:  # the widget says why; nothing else breaks
            reason = str(exc) if isinstance(exc, StepRunError) else f"{type(exc).__name__}: {exc}"
            self.send({"type": "list_outputs_error",
                       "message": redact(f"Listing the outputs failed: {reason}")[:500]})

    def _send_older(self, content: dict) -> None:
        stream = str(content.get("stream", ""))
        tail = self.watch.logs.get(stream)
        if tail is None:
            return
        try:
            with self.watch.lock:
                message = tail.older_lines(int(content.get("before_line", 0)),
                                           min(int(content.get("count", 500)), 5000))
        except StepRunError as exc:
            message = {"type": "older_lines", "stream": stream, "start_line": 0, "lines": [],
                       "error": redact(str(exc))}
        self.send(message)
