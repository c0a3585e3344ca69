"""Helpers of the local-runner tests: step scripts, polling with deadlines, process checks."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import psutil

from tests.support import (  # noqa: F401  (re-exported for the suite's tests)
    RUNNER_MODULE,
    kill_runners,
    runner_processes,
    wait_terminal,
    wait_until,
    write_script,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "notebooks" / "sample"


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
