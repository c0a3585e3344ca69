"""The widgets' Cancel button, kernel side: call the run's ``cancel()`` off the poller's thread.

``cancel()`` may wait several seconds for the runner to acknowledge (core/cancel.py), so it runs on
a thread of its own; the view hears ``cancel_started`` at once and ``cancel_done`` (with the status
then) or ``cancel_error`` (why not, as text) at the end. The poller shows the status turning
Canceled as for any other change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from steprun_widgets.core import layout
from steprun_widgets.core.runs import PipelineRun, StepRun
from steprun_widgets.errors import StepRunError, redact


def cancel_run(run: PipelineRun | StepRun) -> dict:
    """Cancel ``run`` now, on this thread; return the ``cancel_done`` or ``cancel_error`` message."""
    kind = "pipeline run" if isinstance(run, PipelineRun) else "step run"
    try:
        status = run.get_status()
        if layout.is_terminal(status):
            raise StepRunError(f"The {kind} {run.id!r} already ended ({status}): nothing to cancel")
        run.cancel()
        return {"type": "cancel_done", "status": run.get_status()}
    except Exception as exc:  # the widget says why; nothing else breaks
        reason = str(exc) if isinstance(exc, StepRunError) else f"{type(exc).__name__}: {exc}"
        return {"type": "cancel_error",
                "message": redact(f"Cancel of the {kind} {run.id!r} failed: {reason}")[:500]}


def request_cancel(run: PipelineRun | StepRun, send: Callable[[dict], None],
                   request_id: str) -> threading.Thread:
    """Start cancelling ``run`` on a thread of its own; the view gets the messages through ``send``."""
    send({"type": "cancel_started", "request_id": request_id})

    def work() -> None:
        send({**cancel_run(run), "request_id": request_id})

    thread = threading.Thread(target=work, name=f"steprun-cancel-{run.id}", daemon=True)
    thread.start()
    return thread


__all__ = ["cancel_run", "request_cancel"]
