"""Processes, portably: liveness, command lines and process trees through ``psutil``; detached and
grouped children through ``subprocess`` (a new session on POSIX, creation flags on Windows).

What only POSIX has (process groups, umasks) is in :mod:`steprun_widgets.local.posix`.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from typing import Any

import psutil

from steprun_widgets.local import posix

__all__ = ["alive", "cmdline", "environ_has", "stop_tree", "detached_kwargs", "group_kwargs"]


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie counts as dead)."""
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except (psutil.NoSuchProcess, ValueError):
        return False
    except psutil.AccessDenied:
        return True  # exists, owned by someone else


def cmdline(pid: int) -> list[str] | None:
    """The command line of ``pid``, or None when it is gone or unreadable."""
    try:
        return psutil.Process(pid).cmdline() or None
    except (psutil.Error, ValueError, OSError):
        return None


def environ_has(pid: int, name: str, value: str) -> bool:
    """Whether the environment of ``pid`` (ours to read) sets ``name`` to ``value``."""
    try:
        return psutil.Process(pid).environ().get(name) == value
    except (psutil.Error, ValueError, OSError):
        return False


def tree(pid: int) -> list[psutil.Process]:
    """``pid`` and its descendants that are alive (empty when ``pid`` is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except (psutil.Error, ValueError):
        return []


def stop_tree(pid: int, grace: float, *, group: bool = True) -> None:
    """Terminate ``pid`` and its descendants, kill what is left after ``grace`` seconds.

    ``group``: ``pid`` leads a process group of its own (POSIX), which is signalled too, so that
    processes that left the tree (daemonised grandchildren) go as well.
    """
    procs = tree(pid)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    if group:
        import signal

        posix.kill_group(pid, signal.SIGTERM)
    _gone, left = psutil.wait_procs(procs, timeout=grace)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    if group:
        posix.kill_group(pid)
    psutil.wait_procs(left, timeout=5)
    _reap(pid)


def _reap(pid: int) -> None:
    """Collect the exit status of ``pid`` when it is our child (no zombie left behind)."""
    with contextlib.suppress(ChildProcessError, OSError, AttributeError):
        import os

        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done:
                return
            time.sleep(0.02)


def detached_kwargs(umask: int = -1) -> dict[str, Any]:
    """``Popen`` keywords for a process that outlives its starter: a new session on POSIX (with
    ``umask``), a new process group without a console window on Windows."""
    if posix.AVAILABLE:
        return {"start_new_session": True, "umask": umask}
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
            | getattr(subprocess, "DETACHED_PROCESS", 0)}


def group_kwargs(umask: int | None = None) -> dict[str, Any]:
    """``Popen`` keywords for a step: the leader of a process group of its own, so that it and what it
    starts can be stopped together (POSIX: a session, the submitter's ``umask``, death with its parent on
    Linux; Windows: a new process group)."""
    if posix.AVAILABLE:
        return {"start_new_session": True, "preexec_fn": posix.child_preexec(umask)}
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
