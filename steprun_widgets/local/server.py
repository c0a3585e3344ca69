"""The embedded tracking server: a real MLflow tracking server on loopback, one per root folder.

The root defaults to one per person (:mod:`steprun_widgets.local.home`). ``ensure_server(root)``
starts MLflow's server in one process (:mod:`steprun_widgets.local.serve`) bound to 127.0.0.1 on a free
port, with a SQLite store (``<root>/mlflow.db``) and a proxied artifact store (``<root>/artifacts``, so
artifact URIs are ``mlflow-artifacts:/...`` and files live under
``<root>/artifacts/<experiment_id>/<run_id>/artifacts/``).
The server runs detached in its own session, so it outlives the kernel that started it; its output is
appended to ``<root>/server.log``. Its pid and port are recorded in ``<root>/server.json``, so that the
next call (another process, a restarted kernel) reuses it, or restarts a dead one on the same store.

Only the root's owner gets in: the root is ``0700`` and what the server and steprun-widgets write there is
``0600`` (umask ``077``), and the server runs MLflow's basic-auth app with the secret of
``<root>/basic_auth.ini`` (:mod:`steprun_widgets.local.credentials`), so other users of the machine are
refused over the port too. A root made by an older version is upgraded in place: its modes are tightened,
a secret is generated, and its unauthenticated server is restarted (unless runs are still going on it:
then a :class:`LocalServerError` says what to do).

How a recorded server is trusted: its pid must be alive (not a zombie), its command line must be our
server (or an ``mlflow server`` of an older version) whose backend store is this root's database and
whose port is the recorded port (a recycled pid belongs to some other program and fails this), and
``/health`` must answer. Starts and stops are serialised across processes with a file lock
(``filelock``) on ``<root>/server.lock``; processes are handled through ``psutil``.

The server stops itself after a period without requests (:data:`steprun_widgets.local.serve.IDLE_ENV`);
``ensure_server`` then starts it again on the recorded port when that port is free. ``stop_server``
refuses while runs are going on, unless told to cancel them first.

This module never imports ``mlflow``: it only runs it as a separate process.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from steprun_widgets.core import layout
from steprun_widgets.errors import StepRunError
from steprun_widgets.local import processes
from steprun_widgets.local.credentials import (
    AUTH_FILE,
    LocalCredentials,
    ensure_credentials,
    read_credentials,
    server_auth_env,
)
from steprun_widgets.local.home import default_root, resolve_root
from steprun_widgets.local.private import UMASK, open_private, private_dir, tighten_tree
from steprun_widgets.local.serve import DEFAULT_IDLE_TIMEOUT, IDLE_ENV

__all__ = [
    "ServerInfo",
    "LocalServerError",
    "RunsStillGoingError",
    "LiveRun",
    "live_runs",
    "recorded_url",
    "default_root",
    "ensure_server",
    "read_credentials",
    "server_status",
    "stop_server",
    "mlflow_missing_message",
    "INSTALL_HINT",
    "DEFAULT_ROOT",
]

#: What to install to get the embedded server: the requirements of the package's ``local`` extra,
#: spelled out, since they install alike whichever way steprun-widgets itself was installed
#: (a wheel, a checkout, a conda package). tests/test_packaging.py keeps them equal to pyproject's.
INSTALL_HINT = ('pip install "mlflow[auth]>=2.10" "tqdm>=4.60" "packaging>=21" "pathspec>=0.12" '
                '"psutil>=5.9" "filelock>=3.12" "platformdirs>=3"')
#: The root folder used when none is given: ``None`` stands for the per-user root (``home.default_root``).
DEFAULT_ROOT = None

STATE_FILE = "server.json"
LOCK_FILE = "server.lock"
LOG_FILE = "server.log"
DB_FILE = "mlflow.db"
ARTIFACTS_DIR = "artifacts"
#: The MLflow app the server runs: its own basic auth (a server started without it is an old one).
AUTH_APP = "basic-auth"

#: Set in the server's environment (inherited by its uvicorn worker) to the root it serves, so that
#: the worker of a server whose main process died can be recognised as ours and cleaned up.
ROOT_MARKER_ENV = "STEPRUN_WIDGETS_SERVER_ROOT"
#: The module that runs the server in one process.
SERVE_MODULE = "steprun_widgets.local.serve"

_HOST = "127.0.0.1"
#: How long a recorded server that is alive and ours may take to answer /health before it is
#: considered hung and replaced (it may be busy, or still starting in another process).
_REUSE_HEALTH_WAIT = 15.0
_POLL_INTERVAL = 0.25
_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 25

#: Servers started by this process, so that their exit can be reaped (no zombies) and seen at once.
_CHILDREN: dict[int, subprocess.Popen] = {}
#: urllib opener that never goes through an HTTP proxy: the server is on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LocalServerError(StepRunError):
    """The embedded tracking server could not be started, reached or stopped."""


@dataclass(frozen=True)
class LiveRun:
    """A pipeline run going on at an embedded server (RUNNING, its runner's heartbeat fresh)."""

    run_id: str
    name: str
    experiment: str

    def describe(self) -> str:
        return f"{self.run_id} ({self.name or 'unnamed'}, experiment {self.experiment!r})"


class RunsStillGoingError(LocalServerError):
    """``stop_server`` was asked to stop a server on which runs are still going on."""

    def __init__(self, message: str, runs: list[LiveRun]) -> None:
        super().__init__(message)
        self.runs = runs


@dataclass(frozen=True)
class ServerInfo:
    """A running embedded tracking server.

    Attributes:
        url: the tracking URI, ``http://127.0.0.1:<port>``.
        pid: process id of the ``mlflow server`` process (leader of its own process group).
        port: the TCP port it listens on (loopback only).
        root: the root folder (absolute) holding the store, the artifacts, the log and ``server.json``.
        artifacts_dir: ``<root>/artifacts``, where the server keeps artifact files.
        auth_file: ``<root>/basic_auth.ini``, the owner's user name and password (mode 0600); read it
            with :func:`steprun_widgets.local.credentials.read_credentials`.
        reused: True when ``ensure_server`` found it running, False when it started it.
    """

    url: str
    pid: int
    port: int
    root: Path
    artifacts_dir: Path
    auth_file: Path
    reused: bool = field(default=True, compare=False)


# --------------------------------------------------------------------------------------------------
# public API


def ensure_server(root: str | os.PathLike | None = DEFAULT_ROOT, *, timeout: float = 120) -> ServerInfo:
    """Start the embedded MLflow tracking server for ``root``, or reuse the one already running.

    The server recorded in ``<root>/server.json`` is reused when its process is alive, is really our
    server for this root and port, and answers ``/health``. Otherwise a new server is started on the
    same store (SQLite ``<root>/mlflow.db``, artifacts ``<root>/artifacts``), on the recorded port if it
    is free, else on a new free port. Concurrent calls from several processes start one server.

    Args:
        root: folder of the store, created if missing; ``None``: the per-user root
            (``$STEPRUN_HOME``, else the platform's user data folder).
        timeout: seconds to wait for another process that is starting the server, and then for a newly
            started server to answer ``/health``.

    Returns:
        The running server (``reused`` says whether it was already running).

    Raises:
        LocalServerError: ``mlflow`` is not installed (the message says what to install), the root
            folder cannot be created or written, or the server exits or does not answer in time (the
            message quotes the last lines of ``<root>/server.log``).
    """
    root_path = _prepare_root(root)
    with _root_lock(root_path, timeout):
        credentials, generated = ensure_credentials(root_path)
        if generated:  # a new root, or one made before it was owner-only: tighten what is already there
            tighten_tree(root_path)
        state = _read_state(root_path)
        preferred_port: int | None = None
        if state is not None:
            info = _reuse(root_path, state, timeout, restart=generated)
            if info is not None:
                return info
            preferred_port = state.get("port") if isinstance(state.get("port"), int) else None
        _require_mlflow()
        return _start(root_path, preferred_port, timeout, credentials)


def server_status(root: str | os.PathLike | None = DEFAULT_ROOT) -> ServerInfo | None:
    """The embedded server running for ``root`` (``None``: the per-user root), or ``None`` when none is.

    Read-only: it neither starts nor stops anything, nor rewrites ``server.json``.
    """
    root_path = resolve_root(root)
    state = _read_state(root_path)
    if state is None:
        return None
    info = _info_from_state(root_path, state)
    if info is None or not _is_alive_and_ours(info.pid, root_path, info.port):
        return None
    return info if _health(info.url, timeout=3) else None


def recorded_url(root: str | os.PathLike) -> str | None:
    """The URL of the server recorded for ``root`` when it is running and answers, else ``None``.

    For a runner whose server moved (it was restarted on another port): it reads the root's record and
    never starts anything.
    """
    info = server_status(root)
    return info.url if info is not None else None


def live_runs(info: ServerInfo) -> list[LiveRun]:
    """The pipeline runs going on at a running embedded server: RUNNING with a fresh heartbeat.

    Runs of other tools (no heartbeat tag) and steps do not count; an unreadable server has none.
    """
    from steprun_widgets.core.workspace import Workspace

    credentials = read_credentials(info.root)
    workspace = Workspace(info.url, username=credentials.username, password=credentials.password,
                          retries=1)
    found = []
    try:
        experiments = {str(e.get("experiment_id")): str(e.get("name", ""))
                       for e in workspace.rest.search_experiments()}
        if not experiments:
            return []
        body = workspace.transport.post_json(
            "/api/2.0/mlflow/runs/search",
            {"experiment_ids": list(experiments), "filter": "attributes.status = 'RUNNING'",
             "max_results": 1000})
    except StepRunError:
        return []
    finally:
        workspace.transport.close()
    for run in body.get("runs", []) or []:
        tags = {t.get("key"): t.get("value") for t in run.get("data", {}).get("tags", [])}
        if layout.TAG_PARENT_RUN_ID in tags:
            continue
        if layout.parse_heartbeat(tags.get(layout.TAG_HEARTBEAT)) is not None and \
                layout.azureml_status("RUNNING", tags) == layout.RUNNING:
            run_info = run.get("info", {})
            found.append(LiveRun(run_id=str(run_info.get("run_id")),
                                 name=str(tags.get(layout.TAG_RUN_NAME, "")),
                                 experiment=experiments.get(str(run_info.get("experiment_id")), "")))
    return found


def stop_server(root: str | os.PathLike | None = DEFAULT_ROOT, *, force: bool = False, grace: float = 10.0,
                timeout: float = 130, on_cancel: Any = None) -> bool:
    """Stop the embedded server recorded for ``root`` and remove ``server.json``.

    While pipeline runs are going on at it, it refuses (:class:`RunsStillGoingError`, listing them),
    unless ``force``: then each is canceled first (its runner stops its steps and records them
    Canceled), and ``on_cancel(run)`` is called for each, so a caller can say so.

    The server's process tree is terminated, and killed after ``grace`` seconds. Only the recorded pid
    is signalled, and only if it is really our server for this root: a recycled pid is left alone.
    Leftover workers of an older two-process server whose main process died are cleaned up as well.

    Args:
        root: the root folder the server was started for (``None``: the per-user root).
        force: cancel the runs still going on instead of refusing.
        grace: seconds between asking the server to stop and killing it.
        timeout: seconds to wait for a process that is starting the server at the same time.

    Returns:
        ``True`` if a server process was stopped, ``False`` if none was running.
    """
    root_path = resolve_root(root)
    if not (root_path / STATE_FILE).exists():
        return False
    running = server_status(root_path)
    if running is not None:
        going = live_runs(running)
        if going and not force:
            listed = "\n".join(f"  {run.describe()}" for run in going)
            raise RunsStillGoingError(
                f"{len(going)} pipeline run(s) are still going on at the embedded server for {root_path} "
                f"({running.url}):\n{listed}\nWait until they end, cancel them, or stop with --force "
                "(force=True), which cancels them first", going)
        if going:
            _cancel_runs(running, going, on_cancel)
    with _root_lock(root_path, timeout):
        state = _read_state(root_path)
        if state is None:
            _remove_state(root_path)
            return False
        info = _info_from_state(root_path, state)
        stopped = False
        if info is not None:
            if _is_alive_and_ours(info.pid, root_path, info.port):
                _terminate_group(info.pid, grace)
                stopped = True
            elif not _pid_alive(info.pid):
                stopped = _kill_orphans(info.pid, root_path, grace)
        _remove_state(root_path)
        return stopped


def _cancel_runs(info: ServerInfo, runs: list[LiveRun], on_cancel: Any) -> None:
    """Cancel each run through the client (its runner ends its steps Canceled) before a forced stop."""
    from steprun_widgets.core.experiment import Experiment
    from steprun_widgets.core.runs import PipelineRun
    from steprun_widgets.core.workspace import Workspace

    credentials = read_credentials(info.root)
    workspace = Workspace(info.url, username=credentials.username, password=credentials.password)
    for run in runs:
        if on_cancel is not None:
            on_cancel(run)
        with contextlib.suppress(StepRunError):
            PipelineRun(Experiment(workspace, run.experiment), run.run_id).cancel()


# --------------------------------------------------------------------------------------------------
# root folder, state file, lock


def _resolve(root: str | os.PathLike | None) -> Path:
    return resolve_root(root)


def _prepare_root(root: str | os.PathLike | None) -> Path:
    """Create the root folder (and its artifacts folder) owner-only and check that it is writable."""
    root_path = _resolve(root)
    try:
        private_dir(root_path, what="embedded server's folder")
        private_dir(root_path / ARTIFACTS_DIR, what="embedded server's artifact folder")
    except StepRunError as exc:
        raise LocalServerError(exc.message) from None
    except OSError as exc:
        raise LocalServerError(
            f"cannot create the embedded server's folder {root_path}: {exc.strerror or exc}") from exc
    if not os.access(root_path, os.W_OK | os.X_OK):
        raise LocalServerError(f"the embedded server's folder {root_path} is not writable")
    return root_path


def _read_state(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_state(root: Path, state: dict[str, Any]) -> None:
    """Write ``server.json`` atomically: a reader sees the old file or the new one, never a part."""
    target = root / STATE_FILE
    tmp = root / f".{STATE_FILE}.{os.getpid()}.tmp"
    try:
        with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise LocalServerError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _remove_state(root: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (root / STATE_FILE).unlink()


def _info_from_state(root: Path, state: dict[str, Any]) -> ServerInfo | None:
    pid, port = state.get("pid"), state.get("port")
    if not isinstance(pid, int) or not isinstance(port, int) or pid <= 0 or not 0 < port < 65536:
        return None
    return _server_info(root, pid, port)


def _server_info(root: Path, pid: int, port: int, *, reused: bool = True) -> ServerInfo:
    return ServerInfo(url=_url(port), pid=pid, port=port, root=root, artifacts_dir=root / ARTIFACTS_DIR,
                      auth_file=root / AUTH_FILE, reused=reused)


@contextlib.contextmanager
def _root_lock(root: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive file lock on ``<root>/server.lock`` (waits at most ``timeout`` seconds).

    The lock is the operating system's (``flock`` on POSIX, ``LockFileEx`` on Windows, via ``filelock``):
    it goes with the process that holds it, however that process ends.
    """
    import filelock

    lock_path = root / LOCK_FILE
    lock = filelock.FileLock(lock_path, mode=0o600, thread_local=False)
    try:
        lock.acquire(timeout=timeout, poll_interval=0.1)
    except filelock.Timeout:
        raise LocalServerError(
            f"another process has held {lock_path} for more than {timeout:g} s while "
            f"starting or stopping the server for {root}; try again") from None
    except OSError as exc:
        raise LocalServerError(f"cannot create the lock file {lock_path}: {exc.strerror or exc}") from exc
    try:
        yield
    finally:
        lock.release()


# --------------------------------------------------------------------------------------------------
# processes (psutil, through steprun_widgets.local.processes)


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie counts as dead; our own dead children are reaped)."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]
        return False
    return processes.alive(pid)


def _cmdline(pid: int) -> list[str] | None:
    return processes.cmdline(pid)


def _option(args: list[str], name: str) -> str | None:
    """The value after ``name`` in a command line (``--port 5000``), or None."""
    for i, arg in enumerate(args[:-1]):
        if arg == name:
            return args[i + 1]
    return None


def _is_serve_command(args: list[str]) -> bool:
    return SERVE_MODULE in args


def _is_our_server(pid: int, root: Path, port: int) -> bool:
    """Whether ``pid`` serves this root's store on ``port`` (not a recycled pid): our one-process server,
    or the ``mlflow server`` an older version started."""
    args = _cmdline(pid)
    if not args:
        return False
    if _is_serve_command(args):
        return (_option(args, "--backend-store-uri") == _backend_uri(root)
                and _option(args, "--port") == str(port))
    is_mlflow_server = "server" in args and any(Path(arg).name == "mlflow" for arg in args)
    return (is_mlflow_server and _option(args, "--backend-store-uri") == _backend_uri(root)
            and _option(args, "--port") == str(port))


def _is_authenticated(pid: int) -> bool:
    """Whether our server ``pid`` runs MLflow's basic-auth app (one started by an older version may not)."""
    args = _cmdline(pid) or []
    return _is_serve_command(args) or _option(args, "--app-name") == AUTH_APP


def _is_alive_and_ours(pid: int, root: Path, port: int) -> bool:
    return _pid_alive(pid) and _is_our_server(pid, root, port)


def _terminate_group(pid: int, grace: float) -> None:
    """Terminate our server's process tree (and its process group on POSIX), kill it after ``grace`` s."""
    processes.stop_tree(pid, grace)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        with contextlib.suppress(Exception):
            child.wait(5)


def _kill_orphans(pid: int, root: Path, grace: float = 5.0) -> bool:
    """Stop what is left of a dead two-process server (its uvicorn worker), if it is ours for ``root``.

    When an older ``mlflow server`` process dies by SIGKILL its worker lives on, keeping the port and the
    store open. A worker is only stopped if its environment names this root (anything else is left alone).
    """
    import psutil

    orphans = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        args = proc.info.get("cmdline") or []
        if proc.pid != os.getpid() and "uvicorn" in " ".join(args) and \
                processes.environ_has(proc.pid, ROOT_MARKER_ENV, str(root)):
            orphans.append(proc.pid)
    for orphan in orphans:
        processes.stop_tree(orphan, grace, group=False)
    return bool(orphans)

# --------------------------------------------------------------------------------------------------
# network


def _url(port: int) -> str:
    return f"http://{_HOST}:{port}"


def _health(url: str, timeout: float = 2.0) -> bool:
    """Whether ``GET <url>/health`` answers 200 (never through a proxy)."""
    try:
        with _OPENER.open(url + "/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _port_free(port: int) -> bool:
    """Whether ``port`` can be bound on loopback (with SO_REUSEADDR, as uvicorn binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_HOST, port))
        except OSError:
            return False
    return True


#: Where a new server's port is picked: below the ephemeral ranges of Linux (32768-60999), macOS and
#: Windows (49152-65535), so that an outgoing connection of any program cannot take the port of a
#: stopped server before it starts again (it keeps its port when that is free).
PORT_RANGE = (20000, 32767)


def _free_port() -> int:
    rng = random.SystemRandom()
    for _ in range(64):
        port = rng.randint(*PORT_RANGE)
        if _port_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a crowded range: any free port
        sock.bind((_HOST, 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------------------
# mlflow


def _mlflow_available() -> bool:
    try:
        return importlib.util.find_spec("mlflow") is not None
    except (ImportError, ValueError):
        return False


def mlflow_missing_message() -> str:
    """The message of the error raised when the embedded server is needed but ``mlflow`` is missing."""
    return (f"the embedded tracking server needs mlflow, which is not installed in {sys.executable}. "
            f"Install steprun-widgets' local extra: {INSTALL_HINT} "
            "(or connect to an existing MLflow server with Workspace(tracking_uri))")


def _require_mlflow() -> None:
    if not _mlflow_available():
        raise LocalServerError(mlflow_missing_message())


def _mlflow_version() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return None
    try:
        return version("mlflow")
    except PackageNotFoundError:
        return None


def _backend_uri(root: Path) -> str:
    return f"sqlite:///{root / DB_FILE}"


def idle_timeout() -> float:
    """Seconds without a request after which the embedded server stops itself (0: never).

    ``STEPRUN_SERVER_IDLE_TIMEOUT`` when set, else 30 minutes.
    """
    raw = os.environ.get(IDLE_ENV, "").strip()
    if not raw:
        return DEFAULT_IDLE_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise LocalServerError(f"{IDLE_ENV}={raw!r} is not a number of seconds >= 0 (0: never stop)")
    return value


def _server_command(root: Path, port: int) -> list[str]:
    """Our one-process server (``python -m steprun_widgets.local.serve``) for ``root`` on ``port``."""
    return [sys.executable, "-m", SERVE_MODULE, "--root", str(root), "--host", _HOST, "--port", str(port),
            "--backend-store-uri", _backend_uri(root), "--idle-timeout", f"{idle_timeout():g}"]


def _server_env(root: Path, credentials: LocalCredentials) -> dict[str, str]:
    # The secrets travel in the environment (readable only by the owner), never on the command line.
    env = server_auth_env(dict(os.environ), credentials)
    # The job runner (huey consumers for GenAI jobs) is not needed and adds processes and start-up time.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    # A local, embedded server: no usage reports (they would also try to reach the network at start).
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env["PYTHONUNBUFFERED"] = "1"
    env[ROOT_MARKER_ENV] = str(root)
    return env


def _log_tail(log_path: Path, offset: int, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with open(log_path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(offset, size - 16384))
            data = fh.read()
    except OSError:
        return "(no log)"
    text = data.decode("utf-8", errors="replace").rstrip()
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


# --------------------------------------------------------------------------------------------------
# start / reuse


def _reuse(root: Path, state: dict[str, Any], timeout: float, *, restart: bool = False) -> ServerInfo | None:
    """The recorded server if it can be trusted and answers; otherwise clean up after it and return None.

    A server of ours that runs without authentication (started by an older version) is stopped, so that
    one with authentication replaces it; if runs are still going on it, a LocalServerError says what to do.
    ``restart``: the root's secret was just made again, so a server of ours that knows only the old one is
    stopped too.
    """
    info = _info_from_state(root, state)
    if info is None:
        _remove_state(root)
        return None
    if restart and _is_alive_and_ours(info.pid, root, info.port) and _is_authenticated(info.pid):
        _terminate_group(info.pid, grace=10.0)
        _remove_state(root)
        return None
    if _is_alive_and_ours(info.pid, root, info.port) and not _is_authenticated(info.pid):
        active = _active_runs(info.url)
        if active:
            raise LocalServerError(
                f"the embedded server for {root} (pid {info.pid}, {info.url}) was started by an older "
                "steprun-widgets without authentication, and must be restarted to protect it from other "
                f"users of this machine; {len(active)} run(s) are still going on it (e.g. {active[0]}). "
                "Wait until they end (or cancel them), then call again; or restart it now with "
                f"`steprun-widgets server stop --root {root}` (those runs then fail)")
        _terminate_group(info.pid, grace=10.0)
        _remove_state(root)
        return None
    if _is_alive_and_ours(info.pid, root, info.port):
        # Ours and alive. It may be busy, or still starting (its starter was killed before it answered).
        wait = timeout if state.get("state") == "starting" else min(timeout, _REUSE_HEALTH_WAIT)
        deadline = time.monotonic() + wait
        while True:
            if _health(info.url, timeout=min(5.0, max(0.5, deadline - time.monotonic()))):
                if state.get("state") != "running":
                    _write_state(root, {**state, "state": "running"})
                return info
            if time.monotonic() >= deadline or not _pid_alive(info.pid):
                break
            time.sleep(_POLL_INTERVAL)
        # Hung: stop it so that it does not keep the store and the port.
        if _is_alive_and_ours(info.pid, root, info.port):
            _terminate_group(info.pid, grace=10.0)
    elif not _pid_alive(info.pid):
        _kill_orphans(info.pid, root)
    # else: the pid now belongs to another program (recycled): leave it alone.
    _remove_state(root)
    return None


def _start(root: Path, preferred_port: int | None, timeout: float,
           credentials: LocalCredentials) -> ServerInfo:
    log_path = root / LOG_FILE
    for attempt in range(_START_ATTEMPTS):
        if attempt == 0 and preferred_port and _port_free(preferred_port):
            port = preferred_port
        else:
            port = _free_port()
        url = _url(port)
        try:
            log = os.fdopen(open_private(log_path), "ab")  # handed to the child, closed right after
        except OSError as exc:
            raise LocalServerError(f"cannot write the server log {log_path}: {exc.strerror or exc}") from exc
        try:
            offset = log.seek(0, os.SEEK_END)
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            header = f"--- steprun-widgets: starting mlflow server for {root} on {url} at {stamp}\n"
            log.write(header.encode())
            log.flush()
            proc = subprocess.Popen(
                _server_command(root, port), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=root, env=_server_env(root, credentials), close_fds=True,
                **processes.detached_kwargs(UMASK))
        except OSError as exc:
            raise LocalServerError(f"cannot start the mlflow server for {root}: {exc}") from exc
        finally:
            log.close()
        _CHILDREN[proc.pid] = proc
        state = {"pid": proc.pid, "port": port, "url": url, "root": str(root), "started_at": stamp,
                 "mlflow_version": _mlflow_version(), "state": "starting"}
        try:
            _write_state(root, state)
            healthy = _wait_healthy(proc, url, time.monotonic() + timeout)
        except BaseException:  # includes KeyboardInterrupt: do not leave a half-started server behind
            _terminate_group(proc.pid, grace=5.0)
            _remove_state(root)
            raise
        if healthy:
            _write_state(root, {**state, "state": "running"})
            return _server_info(root, proc.pid, port, reused=False)
        _remove_state(root)
        tail = _log_tail(log_path, offset)
        if proc.poll() is None:  # still running, never answered
            _terminate_group(proc.pid, grace=5.0)
            raise LocalServerError(
                f"the mlflow server for {root} did not answer {url}/health within {timeout:g} s; "
                f"last lines of {log_path}:\n{tail}")
        _CHILDREN.pop(proc.pid, None)
        port_taken = "address already in use" in tail.lower() or not _port_free(port)
        if port_taken and attempt + 1 < _START_ATTEMPTS:
            continue  # someone took the port between our check and the server's bind: try another
        raise LocalServerError(
            f"the mlflow server for {root} exited with code {proc.returncode} while starting; "
            f"last lines of {log_path}:\n{tail}")
    raise AssertionError("unreachable")  # pragma: no cover


def _active_runs(url: str) -> list[str]:
    """Ids of the runs that are going on at an unauthenticated (old) server: RUNNING, heartbeat fresh.

    Runs without a heartbeat tag (made by other tools) do not count; an unreadable server has none.
    """
    def post(path: str, body: dict) -> dict:
        request = urllib.request.Request(url + "/api/2.0/mlflow" + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with _OPENER.open(request, timeout=10) as response:
            return json.loads(response.read())

    try:
        experiments = post("/experiments/search", {"max_results": 1000}).get("experiments", [])
        ids = [e["experiment_id"] for e in experiments]
        found = post("/runs/search", {"experiment_ids": ids, "filter": "attributes.status = 'RUNNING'",
                                      "max_results": 1000}).get("runs", []) if ids else []
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError):
        return []
    active = []
    for run in found:
        tags = {t.get("key"): t.get("value") for t in run.get("data", {}).get("tags", [])}
        if layout.parse_heartbeat(tags.get(layout.TAG_HEARTBEAT)) is not None and \
                layout.azureml_status("RUNNING", tags) == layout.RUNNING:
            active.append(run["info"]["run_id"])
    return active


def _wait_healthy(proc: subprocess.Popen, url: str, deadline: float) -> bool:
    """Poll ``/health`` until it answers (True), or the process exits or the deadline passes (False)."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if _health(url, timeout=min(2.0, max(0.2, deadline - time.monotonic()))):
            return proc.poll() is None  # answered by our process, not one that took the port meanwhile
        time.sleep(_POLL_INTERVAL)
    return False
