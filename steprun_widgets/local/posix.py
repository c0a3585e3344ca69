"""The POSIX-only parts of the engine, in one place: process groups, umasks, the parent-death signal.

Everything else uses portable libraries (``psutil`` for processes, ``filelock`` for locks,
``subprocess`` creation flags on Windows). This module imports on every system; on one without these
calls (Windows) :data:`AVAILABLE` is False, the helpers that only tighten or sweep do nothing, and
:func:`require` raises a :class:`~steprun_widgets.errors.StepRunError` naming what needs POSIX.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from steprun_widgets.errors import StepRunError

__all__ = ["AVAILABLE", "require", "kill_group", "current_umask", "child_preexec"]

#: Whether this system has process groups, umasks and fork/exec hooks (Linux, macOS, other Unixes).
AVAILABLE = os.name == "posix" and hasattr(os, "killpg")


def require(what: str) -> None:
    """Raise a clear error when ``what`` needs a POSIX system and this is not one."""
    if not AVAILABLE:
        raise StepRunError(f"{what} needs a POSIX system (Linux or macOS); this is {sys.platform}")


def kill_group(pgid: int, sig: int | None = None) -> None:
    """Signal the process group ``pgid`` (default SIGKILL); nothing where there are no groups."""
    if not AVAILABLE:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL if sig is None else sig)


def current_umask() -> int:
    """This process's umask, read without changing it where /proc tells it (other threads create files)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    current = os.umask(0o022)
    os.umask(current)
    return current


def child_preexec(umask: int | None) -> Callable[[], None] | None:
    """What a step's child runs before exec: its umask, and death with its parent on Linux."""
    if not AVAILABLE:
        return None

    def preexec() -> None:  # pragma: no cover - runs in the child before exec
        if umask is not None:
            os.umask(umask)
        _kill_with_parent()

    return preexec


def _kill_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGKILL the step if the thread that started it dies (a killed runner)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
