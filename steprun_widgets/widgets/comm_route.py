"""Serve this package's widget messages while a cell blocks the kernel's main thread.

A click (download, "Save to kernel", a step view, "List outputs", Cancel) arrives as a comm
message on the shell channel. The kernel's main thread handles shell messages one at a time, so
behind a running cell (``run.wait_for_completion()``, a training loop) a click would wait for the
cell to end. ipykernel 7 has *subshells*: threads of their own that handle shell messages beside
the main one. JupyterLab and Notebook 7 (4.4+/7.4+) send comm messages over a subshell per comm
target, but ipykernel (7.4) routes a comm's messages back to the thread whose cell last sent on
that comm (``Comm._reply_subshell_for``): for a widget displayed by a cell, the busy main thread.

``route_off_main_thread(widget)`` replaces that routing for one widget's comm: a message keeps the
subshell its frontend chose, and one sent to the main shell goes to a subshell this package opens
once per kernel. Nothing of ours waits in a cell for these messages, so the reply-routing
ipykernel does for widgets a cell awaits is not needed. Kernels without subshells (ipykernel 6,
other kernels) keep the default: there the browser says, after a second without an answer, that
the click starts when the running cell ends (docs/widget-protocol.md, "Clicks while a cell runs").
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_subshell: dict[int, str] = {}  # id(kernel) -> the subshell this package opened in it


def route_off_main_thread(widget: Any) -> bool:
    """Have the widget's comm messages handled on a subshell thread; False where the kernel has none."""
    comm = getattr(widget, "comm", None)
    kernel = getattr(comm, "kernel", None)
    if comm is None or kernel is None or getattr(kernel, "shell_channel_thread", None) is None:
        return False
    if not hasattr(comm, "_reply_subshell_for"):
        # ipykernel 7.0-7.3 route by the message's own subshell: the frontend's choice stands
        return True

    def route(_data: Any, default: str | None) -> str | None:
        # Runs on the kernel's shell channel thread, for each comm_msg / comm_close of this comm.
        if default is not None:
            return default  # the frontend sent it over a subshell of its own
        return _own_subshell(kernel)

    comm._reply_subshell_for = route
    return True


def kernel_serves_while_busy() -> bool:
    """Whether this kernel handles widget messages beside a running cell (it has subshells)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    return getattr(kernel, "shell_channel_thread", None) is not None


def _own_subshell(kernel: Any) -> str | None:
    """This package's subshell in ``kernel`` (opened on first use, on the shell channel thread)."""
    with _lock:
        try:
            manager = kernel.shell_channel_thread._manager
            if manager is None:
                return None
            known = _subshell.get(id(kernel))
            if known is not None and known in manager.list_subshell():
                return known
            known = manager._create_subshell()  # we are on the shell channel thread here
        except Exception:  # a kernel whose subshell internals changed: the main thread serves
            log.debug("could not open a subshell for widget messages", exc_info=True)
            return None
        _subshell[id(kernel)] = known
        return known


__all__ = ["route_off_main_thread", "kernel_serves_while_busy"]
