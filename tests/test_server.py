"""The embedded tracking server (steprun_widgets.local.server) and the ``steprun-widgets server`` CLI.

Real MLflow server processes (one process each: MLflow's app served in ``steprun_widgets.local.serve``),
no mocks. Each start costs several seconds, so most tests share one
root (``shared_root``) and call ``ensure_server`` on it, which reuses whatever server runs there. Every
process a test starts is killed in a finalizer by its pid (and its process group).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from steprun_widgets.errors import StepRunError
from steprun_widgets.local import server as srv
from steprun_widgets.local.server import (
    INSTALL_HINT,
    LocalServerError,
    ServerInfo,
    ensure_server,
    server_status,
    stop_server,
)

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}

#: Root -> every server pid seen there by these tests: killed (with its group) at the end if still alive.
_SEEN_PIDS: dict[Path, set[int]] = {}


# --------------------------------------------------------------------------------------------------
# helpers


def _alive(pid: int) -> bool:
    """A live process (zombies count as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")


def _wait_dead(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        srv._pid_alive(pid)  # reaps it if this test process started it
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    return [proc.pid for proc in srv.processes.tree(pid)]


def _server_processes(root: Path) -> list[int]:
    """Live processes that serve ``root`` (environment marker)."""
    return [int(p.name) for p in Path("/proc").iterdir()
            if p.name.isdigit() and _alive(int(p.name))
            and srv.processes.environ_has(int(p.name), srv.ROOT_MARKER_ENV, str(root))]


def _mlflow_mains(root: Path) -> list[int]:
    """Live server main processes whose store is ``root``."""
    uri = f"sqlite:///{root / 'mlflow.db'}"
    return [pid for pid in _server_processes(root) if uri in (srv._cmdline(pid) or [])]


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def _auth(root: Path) -> tuple[str, str]:
    """The owner's basic-auth credentials of the embedded server of ``root`` (from its secret file)."""
    credentials = srv.read_credentials(root)
    return credentials.username, credentials.password


def _track(info: ServerInfo) -> ServerInfo:
    _SEEN_PIDS.setdefault(info.root, set()).add(info.pid)
    return info


def _kill_all(root: Path) -> None:
    """Stop the server of ``root``, then SIGKILL the group of any of its processes still alive."""
    with contextlib.suppress(StepRunError):
        stop_server(root, grace=5)
    for pid in sorted(_SEEN_PIDS.pop(root, set()) | set(_server_processes(root))):
        args = srv._cmdline(pid) or []
        if _alive(pid) and any("mlflow" in a or "uvicorn" in a for a in args):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            _wait_dead(pid, 5)


def _run(*args: str, root: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env=ENV, cwd=root or REPO)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return _run("-m", "steprun_widgets.cli", *args)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_stale_state(root: Path, pid: int, port: int) -> None:
    (root / "server.json").write_text(json.dumps({
        "pid": pid, "port": port, "url": f"http://127.0.0.1:{port}", "root": str(root),
        "started_at": "2020-01-01T00:00:00+00:00", "mlflow_version": "0", "state": "running"}))


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("steprun-shared").resolve()
    try:
        yield root
    finally:
        _kill_all(root)


@pytest.fixture
def server(shared_root) -> ServerInfo:
    """The server of the shared root, started if no earlier test left one running."""
    return _track(ensure_server(shared_root))


@pytest.fixture
def fresh_root(tmp_path):
    root = (tmp_path / "steprun").resolve()
    try:
        yield root
    finally:
        _kill_all(root)


# --------------------------------------------------------------------------------------------------
# start, reuse, layout


def test_start_answers_health_and_records_state(server, shared_root):
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.root == shared_root and server.artifacts_dir == shared_root / "artifacts"
    assert _healthy(server.url)
    state = json.loads((shared_root / "server.json").read_text())
    assert {"pid", "port", "url", "root", "started_at", "mlflow_version"} <= state.keys()
    assert (state["pid"], state["port"], state["url"]) == (server.pid, server.port, server.url)
    assert state["root"] == str(shared_root)
    assert (shared_root / "mlflow.db").is_file()
    assert "Uvicorn running" in (shared_root / "server.log").read_text()
    args = srv._cmdline(server.pid)
    assert args[:3] == [sys.executable, "-m", "steprun_widgets.local.serve"]
    assert f"sqlite:///{shared_root / 'mlflow.db'}" in args and "127.0.0.1" in args
    # detached: leader of its own session/process group
    assert os.getsid(server.pid) == server.pid and os.getpgid(server.pid) == server.pid


def test_second_call_reuses_the_same_server(server, shared_root):
    starts = (shared_root / "server.log").read_text().count("--- steprun-widgets: starting")
    again = ensure_server(shared_root)
    assert again == server
    assert (shared_root / "server.log").read_text().count("--- steprun-widgets: starting") == starts
    assert server_status(shared_root) == server
    assert _mlflow_mains(shared_root) == [server.pid]


def test_another_process_reuses_the_same_server(server, shared_root):
    code = ("import sys; from steprun_widgets.local.server import ensure_server\n"
            "print(ensure_server(sys.argv[1]).pid)")
    done = _run("-c", code, str(shared_root))
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) == server.pid
    # a relative root names the same folder
    done = _run("-c", code, shared_root.name, root=shared_root.parent)
    assert int(done.stdout.strip()) == server.pid


def test_artifacts_are_proxied_into_the_root(server):
    api = server.url + "/api/2.0/mlflow"
    auth = _auth(server.root)
    exp = requests.post(f"{api}/experiments/create", json={"name": f"layout-{uuid.uuid4().hex}"}, timeout=10,
                        auth=auth)
    run = requests.post(f"{api}/runs/create", json={"experiment_id": exp.json()["experiment_id"]}, timeout=10,
                        auth=auth)
    info = run.json()["run"]["info"]
    assert info["artifact_uri"].startswith("mlflow-artifacts:/")
    rel = info["artifact_uri"][len("mlflow-artifacts:/"):].lstrip("/")
    put = requests.put(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{rel}/logs/stdout.txt",
                       data=b"hello\n", timeout=10, auth=auth)
    assert put.ok, put.text
    expected = server.artifacts_dir / exp.json()["experiment_id"] / info["run_id"] / "artifacts"
    assert (expected / "logs" / "stdout.txt").read_bytes() == b"hello\n"


def test_a_server_for_another_root_or_port_is_not_ours(server, shared_root, tmp_path):
    assert srv._is_our_server(server.pid, shared_root, server.port)
    assert not srv._is_our_server(server.pid, tmp_path, server.port)
    assert not srv._is_our_server(server.pid, shared_root, server.port + 1)
    assert not srv._is_our_server(os.getpid(), shared_root, server.port)


# --------------------------------------------------------------------------------------------------
# crash, stop, stale state


def test_sigkilled_server_restarts_on_the_same_store(server, shared_root):
    api = server.url + "/api/2.0/mlflow"
    name = f"survives-{uuid.uuid4().hex}"
    created = requests.post(f"{api}/experiments/create", json={"name": name}, timeout=10,
                            auth=_auth(shared_root))
    exp_id = created.json()["experiment_id"]
    assert _tree(server.pid) == [server.pid], "one process: MLflow's app is served in the server process"

    log = shared_root / "server.log"
    starts = log.read_text().count("--- steprun-widgets: starting")
    os.kill(server.pid, signal.SIGKILL)  # a crash
    assert _wait_dead(server.pid)
    # The kernel may hold the dead server's port a moment (its connections closing): the server
    # keeps its port when it is free, so wait (bounded) until it is, then restart.
    deadline = time.monotonic() + 30
    while not srv._port_free(server.port) and time.monotonic() < deadline:
        time.sleep(0.2)
    free = srv._port_free(server.port)

    again = _track(ensure_server(shared_root))
    assert again.pid != server.pid and not again.reused
    if free:
        assert again.port == server.port  # the recorded port was free again
    else:  # something else holds it still: a new port, and the server works there
        assert again.port != server.port
    got = requests.get(f"{again.url}/api/2.0/mlflow/experiments/get", params={"experiment_id": exp_id},
                       timeout=10, auth=_auth(shared_root))
    assert got.ok and got.json()["experiment"]["name"] == name
    assert _mlflow_mains(shared_root) == [again.pid]
    assert log.read_text().count("--- steprun-widgets: starting") == starts + 1  # appended, not truncated


def test_stop_server_stops_the_process_tree(server, shared_root):
    members = _tree(server.pid)
    assert server.pid in members
    assert stop_server(shared_root) is True
    assert all(_wait_dead(pid) for pid in members)
    assert not (shared_root / "server.json").exists()
    assert server_status(shared_root) is None
    assert not _healthy(server.url)
    assert stop_server(shared_root) is False


def test_stale_state_with_a_foreign_pid_is_not_trusted(shared_root):
    stop_server(shared_root)
    sleeper = subprocess.Popen(["sleep", "300"])  # stands for a recycled pid
    try:
        port = _free_port()
        _write_stale_state(shared_root, sleeper.pid, port)
        assert server_status(shared_root) is None
        assert stop_server(shared_root) is False
        assert sleeper.poll() is None, "a foreign process must never be signalled"

        _write_stale_state(shared_root, sleeper.pid, port)
        info = _track(ensure_server(shared_root))
        assert info.pid != sleeper.pid and _healthy(info.url)
        assert info.port == port  # the recorded port was free, so it is reused
        assert sleeper.poll() is None
        assert json.loads((shared_root / "server.json").read_text())["pid"] == info.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def test_garbage_state_file_is_ignored(server, shared_root):
    state = (shared_root / "server.json").read_text()
    (shared_root / "server.json").write_text("{not json")
    try:
        assert server_status(shared_root) is None
    finally:
        (shared_root / "server.json").write_text(state)
    assert server_status(shared_root) == server


# --------------------------------------------------------------------------------------------------
# concurrency, detachment


def test_concurrent_starts_from_two_processes_start_one_server(fresh_root):
    code = ("import sys, time\n"
            "from steprun_widgets.local.server import ensure_server\n"
            "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
            "print(ensure_server(sys.argv[1]).pid)\n")
    start_at = str(time.time() + 2.0)  # both past their imports, then racing
    procs = [subprocess.Popen([sys.executable, "-c", code, str(fresh_root), start_at], env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [proc.communicate(timeout=180) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in outs]
    pids = {int(out.strip()) for out, _ in outs}
    _SEEN_PIDS.setdefault(fresh_root, set()).update(pids)
    assert len(pids) == 1
    (pid,) = pids
    assert _mlflow_mains(fresh_root) == [pid]
    assert (fresh_root / "server.log").read_text().count("--- steprun-widgets: starting") == 1
    # the server outlives the processes that started it
    info = server_status(fresh_root)
    assert info is not None and info.pid == pid and _healthy(info.url)
    assert stop_server(fresh_root) is True
    assert _wait_dead(pid)


# --------------------------------------------------------------------------------------------------
# errors


def test_server_that_exits_at_start_reports_its_log(fresh_root):
    fresh_root.mkdir()
    (fresh_root / "mlflow.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(LocalServerError) as err:
        ensure_server(fresh_root)
    message = str(err.value)
    assert str(fresh_root) in message and "server.log" in message
    assert "not a database" in message  # the last lines of the log
    assert not (fresh_root / "server.json").exists()
    assert _server_processes(fresh_root) == []


def test_root_that_cannot_be_created_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(LocalServerError, match="a-file/steprun"):
        ensure_server(blocker / "steprun")
    assert isinstance(LocalServerError("x"), StepRunError)


def test_status_and_stop_of_a_missing_root_create_nothing(tmp_path):
    root = tmp_path / "nothing-here"
    assert server_status(root) is None
    assert stop_server(root) is False
    assert not root.exists()


def test_without_mlflow_the_message_says_what_to_install(tmp_path):
    block = "import sys; sys.modules['mlflow'] = None\n"  # importlib.util.find_spec('mlflow') -> None
    code = block + ("from steprun_widgets.errors import StepRunError\n"
                    "from steprun_widgets.local.server import ensure_server\n"
                    "try:\n    ensure_server(sys.argv[1])\n"
                    "except StepRunError as exc:\n    print('StepRunError', exc)\n")
    done = _run("-c", code, str(tmp_path / "root"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("StepRunError ") and INSTALL_HINT in done.stdout

    cli = block + "from steprun_widgets.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    done = _run("-c", cli, "server", "start", "--root", str(tmp_path / "root"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and INSTALL_HINT in done.stderr
    assert "Traceback" not in done.stderr


def test_importing_does_not_import_mlflow():
    code = ("import sys, steprun_widgets, steprun_widgets.cli, steprun_widgets.local.server\n"
            "print('mlflow' in sys.modules)\n")
    done = _run("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------------
# CLI


def test_cli_start_status_stop(server, shared_root):
    root = str(shared_root)
    status = _cli("server", "status", "--root", root)
    assert status.returncode == 0, status.stderr
    assert server.url in status.stdout and f"pid {server.pid}" in status.stdout

    start = _cli("server", "start", "--root", root)  # reuses the running server
    assert start.returncode == 0 and start.stdout.strip() == server.url

    stop = _cli("server", "stop", "--root", root)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    assert _wait_dead(server.pid)
    status = _cli("server", "status", "--root", root)
    assert status.returncode == 1 and "not running" in status.stdout

    start = _cli("server", "start", "--root", root)
    assert start.returncode == 0, start.stderr
    url = start.stdout.strip()
    info = server_status(shared_root)
    assert info is not None and info.url == url and _healthy(url)
    _track(info)


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = _cli("server", "start", "--root", str(blocker / "root"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and str(blocker) in done.stderr
    assert "Traceback" not in done.stderr
    assert _cli("server").returncode == 2  # argparse: an action is required
