"""The kernel side of one step's view, whatever model carries it.

A ``StepSession`` watches one StepRun, turns each fresh record into state and messages, and
answers the view's requests (log sync, older lines, downloads, save into the kernel's folder,
cancel). A StepRunWidget serves it on its own model; a PipelineRunWidget serves the selected
step's session on the pipeline's model (``StepPane``), so a click on a step opens no new widget
model (marimo cannot open one outside a cell run) and adds none to a saved notebook.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from steprun_widgets.core.rest import RunRecord
from steprun_widgets.core.runs import StepRun
from steprun_widgets.errors import StepRunError, redact
from steprun_widgets.widgets.cancel_control import request_cancel
from steprun_widgets.widgets.comm_route import kernel_serves_while_busy
from steprun_widgets.widgets.downloads import ChunkSender, stream_log, stream_output
from steprun_widgets.widgets.poller import get_poller
from steprun_widgets.widgets.save_local import save_output_locally
from steprun_widgets.widgets.watch import StepWatch

#: The saved ``logs`` and ``metrics`` traits are refreshed this often while a run goes on (live text
#: and metric values go as messages).
LOGS_SYNC_EVERY = 10.0

#: ``send(content, buffers)``: a custom message to the view.
Send = Callable[[dict, Any], None]
#: ``publish(traits, final)``: the view's state changed (``logs``/``metrics`` only now and then);
#: ``final`` says the run ended and this is its last state.
Publish = Callable[[dict, bool], None]


class StepSession:
    """One step's watch, its state for the view, and the answers to the view's messages."""

    def __init__(self, step_run: StepRun, tail_lines: int, send: Send, publish: Publish) -> None:
        self.step_run = step_run
        self.watch = StepWatch(step_run, tail_lines)
        self._send = send
        self._publish = publish
        self._downloads: dict[str, ChunkSender] = {}
        self._logs_synced_at = 0.0

    def start(self) -> None:
        """First look: the run and its logs so far (the first tail goes in the state, not in messages)."""
        with self.watch.lock:
            traits, _ = self.watch.start()
            self._set_state(traits, sync_logs=True)

    def full_state(self) -> dict:
        """Every trait of the view now, logs and metrics included."""
        with self.watch.lock:
            return {**self.watch.traits(), "logs": self.watch.logs_state(),
                    "metrics": self.watch.metrics_state()}

    # --- poller callback (poller thread) --------------------------------------------------------
    def on_record(self, record: RunRecord) -> None:
        with self.watch.lock:
            traits, messages = self.watch.apply(record)
            for message in messages:
                self._send(message, None)
            due = time.monotonic() - self._logs_synced_at >= LOGS_SYNC_EVERY
            self._set_state(traits, sync_logs=self.watch.final or due)

    def _set_state(self, traits: dict, sync_logs: bool) -> None:
        if sync_logs:
            traits = {**traits, "logs": self.watch.logs_state(), "metrics": self.watch.metrics_state()}
            self._logs_synced_at = time.monotonic()
        self._publish(traits, self.watch.final and sync_logs)

    def close(self) -> None:
        for sender in list(self._downloads.values()):
            sender.cancel()

    # --- the view's messages --------------------------------------------------------------------
    def handle(self, content: dict, buffers: list[bytes] | None = None) -> None:
        """Answer one message of the view (docs/widget-protocol.md, "Browser → kernel")."""
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "sync":
            with self.watch.lock:
                for message in self.watch.snapshots():
                    self._send(message, None)
            # the view knows a kernel answers it (live), and whether it does so while a cell runs
            self._send({"type": "sync_done", "serves_while_busy": kernel_serves_while_busy()}, None)
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
        elif kind == "cancel":
            request_cancel(self.step_run, lambda message: self._send(message, None),
                           str(content.get("request_id", "")))

    def _start_download(self, output: str, request_id: str, log: bool = False) -> None:
        sender = ChunkSender(self._send, request_id)
        self._downloads[request_id] = sender

        def run() -> None:
            try:
                (stream_log if log else stream_output)(self.step_run, output, request_id, self._send,
                                                       sender)
            finally:
                self._downloads.pop(request_id, None)

        threading.Thread(target=run, name=f"steprun-download-{output}", daemon=True).start()

    def _save_local(self, content: dict) -> None:
        message = save_output_locally(self.step_run, str(content.get("output", "")),
                                      content.get("path") or "")
        self._send({**message, "request_id": str(content.get("request_id", ""))}, None)

    def _list_outputs(self) -> None:
        """List the outputs the view asked for; a failure is said beside the button."""
        try:
            with self.watch.lock:
                # final: the saved snapshot shows them too
                self._publish(self.watch.list_outputs(), True)
        except Exception as exc:  # the widget says why; nothing else breaks
            reason = str(exc) if isinstance(exc, StepRunError) else f"{type(exc).__name__}: {exc}"
            self._send({"type": "list_outputs_error",
                        "message": redact(f"Listing the outputs failed: {reason}")[:500]}, None)

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
        self._send(message, None)


class StepPane:
    """The selected step of a PipelineRunWidget, served on the pipeline widget's own model.

    Its state goes in the pipeline's ``pane`` (status, times, outputs...) and ``pane_logs`` (the
    saved log tails and metrics) traits, its messages as the pipeline's custom messages marked
    ``"pane": node_id``; the view's messages come back marked the same way. The poller refreshes it
    like a StepRunWidget (it has ``watch``, ``_on_record`` and ``_on_connection``). The state's
    keys read as attributes, as on a StepRunWidget: ``pane.status``, ``pane.logs["stdout"]``.
    """

    def __init__(self, owner: Any, node_id: str, step_run: StepRun, tail_lines: int = 2000) -> None:
        self.node_id = node_id
        self.step_run = step_run
        self._owner = weakref.ref(owner)  # the pipeline widget holds its panes, not the other way
        self.state: dict = {"connection": "ok", "connection_detail": ""}
        self.session = StepSession(step_run, tail_lines, self._send, self._publish)
        self.watch = self.session.watch
        self.session.start()

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__.get("state") or {}
        if name in state:
            return state[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _send(self, content: dict, buffers: Any = None) -> None:
        owner = self._owner()
        if owner is not None:
            owner.send({**content, "pane": self.node_id}, buffers)

    def _publish(self, traits: dict, final: bool = False) -> None:
        self.state.update(traits)
        owner = self._owner()
        if owner is not None:
            owner._publish_pane(self, logs="logs" in traits, final=final)

    def _on_record(self, record: RunRecord) -> None:
        self.session.on_record(record)

    def _on_connection(self, ok: bool, detail: str) -> None:
        state = {"connection": "ok", "connection_detail": ""} if ok else {
            "connection": "reconnecting", "connection_detail": detail}
        if any(self.state.get(k) != v for k, v in state.items()):
            self._publish(state, False)

    def _list_outputs(self) -> None:
        """What the view's "List outputs" asks for, on this thread."""
        self.session._list_outputs()

    def refresh(self) -> StepPane:
        """Refresh from the server now, on this thread."""
        get_poller().tick([self])
        return self

    def close(self) -> None:
        get_poller().unregister(self)
        self.session.close()


__all__ = ["StepSession", "StepPane", "LOGS_SYNC_EVERY"]
