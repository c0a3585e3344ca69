"""Helpers of the local-runner tests: step scripts, polling with deadlines, process checks."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil

from steprun_widgets.core import layout

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "notebooks" / "sample"
RUNNER_MODULE = "steprun_widgets.local.runner"


def write_script(folder: Path, name: str, code: str) -> Path:
    """Write a step script (dedented) into ``folder``; returns the folder (a source_directory)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    return folder


def copy_sample(dest: Path) -> Path:
    """A private copy of the sample pipeline's folder (so a test may edit its scripts)."""
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def sample_module():
    """The sample pipeline's builder module (notebooks/sample/sample_pipeline.py)."""
    if str(SAMPLE) not in sys.path:
        sys.path.insert(0, str(SAMPLE))
    import sample_pipeline

    return sample_pipeline


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def wait_terminal(run, timeout: float = 60.0) -> str:
    """Wait for a run to reach a final status (no output); returns it."""
    return wait_until(lambda: (s := run.get_status()) in layout.TERMINAL_STATUSES and s,
                      timeout, f"run {run.id} to end")


def statuses(pipeline_run) -> dict[str, str]:
    """Step name -> status as the server has it now."""
    return {s.name: s.get_status() for s in pipeline_run.get_steps()}


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (PID 1 here may not reap orphans)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def runner_processes(run_id: str) -> list[psutil.Process]:
    """Runner processes started by this test process (children) for the pipeline ``run_id``."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            cmdline = proc.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if RUNNER_MODULE in cmdline and any(run_id in part for part in cmdline):
            found.append(proc)
    return found


def kill_runners(run_id: str) -> None:
    """SIGKILL the runner(s) this test process started for ``run_id`` (teardown safety net)."""
    for proc in runner_processes(run_id):
        try:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.TimeoutExpired):
            pass


def work_folder(workspace, pipeline_run_id: str) -> Path:
    """Where the runner keeps a pipeline's work (outputs, spooled logs, its own log)."""
    import tempfile

    base = (workspace.local_root / "work" if workspace.local_root is not None
            else Path(tempfile.gettempdir()) / "steprun-widgets" / "work")
    return base / pipeline_run_id


def spool_files(workspace, pipeline_run_id: str, step_name: str) -> list[Path]:
    """The UploadSink spool files the runner kept for a step (none when it appended in place)."""
    folder = work_folder(workspace, pipeline_run_id) / step_name / "spool"
    return sorted(folder.glob("*")) if folder.is_dir() else []


def assert_sink(workspace, sink: str, pipeline_run_id: str, step_name: str) -> None:
    """The runner shipped the step's logs the way ``sink`` says (append in place, or upload)."""
    spooled = spool_files(workspace, pipeline_run_id, step_name)
    if sink == "append":
        assert spooled == [], f"expected logs appended in place, found spool files {spooled}"
    else:
        assert spooled, "expected the logs to be spooled and uploaded"
