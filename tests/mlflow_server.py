"""Start and stop a real ``mlflow server`` for tests (SQLite store, temp folder, free port).

Which MLflow serves is chosen by ``STEPRUN_TEST_MLFLOW_PYTHON``: the Python of an environment with
the ``mlflow`` package to test against (``scripts/test.sh`` points it at a venv with the oldest
supported 2.x for the ``servers`` subset). Unset, it is this Python's MLflow (the newest 3.x).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

SERVER_PYTHON_ENV = "STEPRUN_TEST_MLFLOW_PYTHON"


def server_python() -> str:
    """The Python whose ``mlflow`` package serves (and writes the runs of other tools) in tests."""
    return os.environ.get(SERVER_PYTHON_ENV) or sys.executable


def stop_process(proc: subprocess.Popen, ask: Callable[[int], None]) -> None:
    """Stop a server process a test started: ``ask(pid)`` (its own way to shut down), then its
    process group killed if it has not ended within 10 s. Only that process, by its pid."""
    if proc.poll() is not None:
        return
    try:
        ask(proc.pid)
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """A real tracking server on 127.0.0.1; ``stop()`` and ``start()`` keep the same store and port."""

    def __init__(self, folder: Path, port: int | None = None, *, python: str | None = None,
                 args: tuple[str, ...] | None = None, env: dict[str, str] | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.artifacts = self.folder / "artifacts"
        self.proc: subprocess.Popen | None = None
        self.python = python or server_python()
        #: Where artifacts go: proxied into ``artifacts/`` unless other arguments are given.
        self.args = ("--artifacts-destination", str(self.artifacts)) if args is None else args
        self.env = env or {}

    @property
    def version(self) -> str:
        """The MLflow version that serves (asked once of the server's Python)."""
        if not hasattr(self, "_version"):
            self._version = subprocess.run(
                [self.python, "-c", "import mlflow; print(mlflow.__version__)"],
                capture_output=True, text=True, check=True, timeout=120).stdout.strip()
        return self._version

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def start(self, timeout: float = 90.0) -> MlflowServer:
        cmd = [self.python, "-m", "mlflow", "server",
               "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}", *self.args,
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        self.log = open(self.folder / "server.log", "ab")  # noqa: SIM115
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **self.env}
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.folder, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: see {self.folder / 'server.log'}")
            try:
                # Any HTTP answer: the basic-auth app answers /health with 401.
                if requests.get(self.url + "/health", timeout=1).status_code in (200, 401):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"mlflow server did not become healthy in {timeout} s")

    def stop(self) -> None:
        """Stop the server process group we started (uvicorn has a worker child)."""
        if self.proc is None:
            return
        stop_process(self.proc, lambda pid: os.killpg(pid, signal.SIGTERM))
        self.proc = None
        self.log.close()
