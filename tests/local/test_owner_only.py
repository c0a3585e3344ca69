"""On a shared machine only the owner gets into the embedded server, over its port or on disk.

A second Unix user is made for the test (``useradd``; the test needs root, as CI runs it) and a process
run as that user probes a real embedded server: every request it makes is refused (401), and it reads
none of the root's files. The owner's own flow works on the same server. A root made before the server
was protected (an unauthenticated server running on a 0755/0644 root) is upgraded in place.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest
import requests

from steprun_widgets import Experiment, Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import PipelineData
from steprun_widgets.local import server as srv
from steprun_widgets.local.credentials import AUTH_FILE, read_credentials
from tests.reliability.helpers import script_step
from tests.support import submit, wait_until

pytestmark = pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0 or not shutil.which("useradd"),
                                reason="needs root and useradd to create a second Unix user "
                                       "(CI runs as root)")

#: What the other user runs: stdlib only (it may not be able to enter the owner's Python installation).
PROBE = textwrap.dedent("""
    import base64, json, sys, urllib.error, urllib.request
    spec = json.loads(sys.argv[1])
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    statuses = []
    for method, path, body, auth in spec["requests"]:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        data = body.encode() if body is not None else None
        request = urllib.request.Request(spec["url"] + path, data=data, method=method, headers=headers)
        try:
            with opener.open(request, timeout=30) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)
    reads = {}
    for path in spec["files"]:
        try:
            with open(path, "rb") as fh:
                fh.read(1)
            reads[path] = "read"
        except PermissionError:
            reads[path] = "denied"
        except OSError as exc:
            reads[path] = type(exc).__name__
    print(json.dumps({"statuses": statuses, "reads": reads}))
""")


@pytest.fixture(scope="module")
def other_user():
    """A second Unix user (no home, no shell), removed at the end; and a Python it can run."""
    name = f"sr{uuid.uuid4().hex[:10]}"
    made = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group",
                           name], capture_output=True, text=True, timeout=60)
    if made.returncode != 0:
        pytest.skip(f"useradd could not create a second user: {made.stderr.strip()}")
    try:
        import pwd

        entry = pwd.getpwnam(name)
        python = next((p for p in (sys.executable, shutil.which("python3"), "/usr/bin/python3")
                       if p and _runs(entry, p)), None)
        if python is None:
            pytest.skip(f"no Python that user {name} may run (the owner's is under a private home)")
        yield entry, python
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=60)


def _runs(entry, python: str) -> bool:
    try:
        return _as(entry, [python, "-c", "pass"]).returncode == 0
    except OSError:  # e.g. a Python under the owner's private home
        return False


def _as(entry, argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``argv`` as the other user: its uid, its group only, a bare environment."""
    return subprocess.run(argv, user=entry.pw_uid, group=entry.pw_gid, extra_groups=[], cwd="/",
                          env={"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8"},
                          capture_output=True, text=True, timeout=120)


def _probe(other_user, url: str, requests_: list, files: list[Path]) -> dict:
    entry, python = other_user
    spec = {"url": url, "requests": requests_, "files": [str(f) for f in files]}
    done = _as(entry, [python, "-c", PROBE, json.dumps(spec)])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def shared_parent():
    """A folder every user may enter, like a home directory on a lab server (pytest's tmp is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="steprun-shared-"))
    folder.chmod(0o755)
    roots: list[Path] = []
    try:
        yield folder, roots
    finally:
        for root in roots:
            with contextlib.suppress(Exception):
                srv.stop_server(root, grace=5)
        shutil.rmtree(folder, ignore_errors=True)


STEP = """
import os, sys
from pathlib import Path
mask = os.umask(0)
os.umask(mask)
print(f"umask {mask:03o}", flush=True)
(Path(sys.argv[1]) / "result.txt").write_text("the owner's result")
"""


def _modes(root: Path) -> list[str]:
    """Entries under ``root`` that others could read, write or enter, except what a step wrote itself."""
    loose = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        step_output = path.is_file() and "outputs" in path.relative_to(root).parts[:4] and \
            path.relative_to(root).parts[0] == "work"
        if mode & 0o077 and not step_output:
            loose.append(f"{path.relative_to(root)} {mode:o}")
    return loose


@pytest.mark.slow  # among the ten slowest of core + local + widgets (CONTRIBUTING.md)
def test_another_user_is_refused_over_the_port_and_on_disk(other_user, shared_parent, tmp_path):
    parent, roots = shared_parent
    root = parent / ".steprun"
    roots.append(root)
    ws = Workspace.local(root)
    out = PipelineData("out")
    run = submit(Experiment(ws, "owner-only"),
                 [script_step(tmp_path, "owner", STEP, outputs=(out,))])
    assert run.wait_for_completion(show_output=False, timeout_seconds=180) == layout.FINISHED
    step = run.find_step_run("owner")[0]
    assert f"umask {_submitter_umask():03o}" in step.get_stdout_log(), "the step got the submitter's umask"
    record = ws.rest.get_run(step.id)
    rel = record.artifact_uri[len("mlflow-artifacts:/"):].lstrip("/")
    stdout_artifact = f"/api/2.0/mlflow-artifacts/artifacts/{rel}/logs/stdout.txt"
    creds = read_credentials(root)
    experiment_id = record.experiment_id

    create = json.dumps({"name": "intruder"})
    search = json.dumps({"experiment_ids": [experiment_id]})
    attempts = [
        ["POST", "/api/2.0/mlflow/experiments/create", create, None],
        ["POST", "/api/2.0/mlflow/experiments/create", create, f"{creds.username}:not-the-password"],
        ["POST", "/api/2.0/mlflow/experiments/create", create, "admin:password1234"],
        ["POST", "/api/2.0/mlflow/runs/search", search, None],
        ["GET", f"/api/2.0/mlflow/runs/get?run_id={step.id}", None, None],
        ["POST", "/api/2.0/mlflow/runs/delete", json.dumps({"run_id": step.id}), None],
        ["GET", stdout_artifact, None, None],
        ["PUT", f"/api/2.0/mlflow-artifacts/artifacts/{rel}/logs/stdout.txt", "overwritten", None],
        ["GET", f"/get-artifact?path=logs/stdout.txt&run_uuid={step.id}", None, None],
        ["GET", f"/ajax-api/2.0/mlflow/experiments/get?experiment_id={experiment_id}", None, None],
        ["GET", "/", None, None],
    ]
    artifact_file = ws.local_root / "artifacts" / rel / "logs" / "stdout.txt"
    work = root / "work" / run.id
    files = [root / "mlflow.db", root / AUTH_FILE, root / "basic_auth.db", root / "server.log",
             root / "server.json", artifact_file]
    for path in files:
        assert path.is_file(), path
    # the work area of a finished run is removed (kept for failed ones): probe what is left of it
    files += [p for p in (root / "work").rglob("*") if p.is_file()] + [work]
    seen = _probe(other_user, ws.tracking_uri, attempts, files)
    refused = dict(zip([f"{a[0]} {a[1]}" for a in attempts], seen["statuses"], strict=True))
    assert set(refused.values()) == {401}, refused
    assert set(seen["reads"].values()) == {"denied"}, seen["reads"]

    # The same requests with the owner's credentials get through: the refusals above are the auth's doing.
    owner = requests.Session()
    owner.auth = (creds.username, creds.password)
    assert owner.get(ws.tracking_uri + stdout_artifact, timeout=30).text.startswith("umask")
    assert owner.post(ws.tracking_uri + "/api/2.0/mlflow/runs/search", data=search, timeout=30,
                      headers={"Content-Type": "application/json"}).ok
    assert owner.get(ws.tracking_uri + "/", timeout=30).ok  # the MLflow UI, signed in
    assert ws.rest.get_run(step.id).status == "FINISHED"  # nothing the intruder tried took effect
    assert step.get_stdout_log().startswith("umask")
    assert _modes(root) == []


def _submitter_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------------------------------
# an old-style root: made before the server was protected


def _start_old_style_server(root: Path) -> tuple[subprocess.Popen, int]:
    """What steprun-widgets did before roots were owner-only: 0755 root, umask 022, no authentication."""
    root.mkdir(mode=0o755)
    (root / "artifacts").mkdir(mode=0o755)
    port = srv._free_port()
    # the command those versions ran: `mlflow server`, two processes, without --app-name basic-auth
    argv = [sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_AUTH")}
    env.update({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true",
                srv.ROOT_MARKER_ENV: str(root)})
    with open(root / "server.log", "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=root, env=env, start_new_session=True, umask=0o022)
    url = f"http://127.0.0.1:{port}"
    (root / "server.json").write_text(json.dumps({
        "pid": proc.pid, "port": port, "url": url, "root": str(root),
        "started_at": "2026-01-01T00:00:00+00:00", "state": "running"}))
    wait_until(lambda: _health(url), 120, "the old-style server to answer")
    return proc, port


def _health(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=3).ok
    except requests.RequestException:
        return False


@pytest.mark.slow  # among the ten slowest of core + local + widgets (CONTRIBUTING.md)
def test_a_root_made_before_is_upgraded_in_place(other_user, shared_parent):
    parent, roots = shared_parent
    root = (parent / "old-root").resolve()
    roots.append(root)
    proc, port = _start_old_style_server(root)
    try:
        api = f"http://127.0.0.1:{port}/api/2.0/mlflow"
        exp = requests.post(f"{api}/experiments/create", json={"name": "made-before"}, timeout=30).json()
        run = requests.post(f"{api}/runs/create", json={"experiment_id": exp["experiment_id"], "tags": [
            {"key": layout.TAG_HEARTBEAT, "value": layout.heartbeat_value()}]}, timeout=30).json()
        run_id = run["run"]["info"]["run_id"]
        assert stat.S_IMODE((root / "mlflow.db").stat().st_mode) & 0o044, "the old root is world-readable"
        before = _probe(other_user, f"http://127.0.0.1:{port}",
                        [["POST", "/api/2.0/mlflow/experiments/create", json.dumps({"name": "x"}), None]],
                        [root / "mlflow.db"])
        assert before == {"statuses": [200], "reads": {str(root / "mlflow.db"): "read"}}, "the issue as filed"

        # A run is going on on it: restarting the server would break it, so the owner is told what to do.
        with pytest.raises(srv.LocalServerError) as info:
            srv.ensure_server(root)
        message = str(info.value)
        assert "older" in message and run_id in message and "steprun-widgets server stop" in message
        assert proc.poll() is None, "the old server was left running"

        requests.post(f"{api}/runs/update", json={"run_id": run_id, "status": "FINISHED"}, timeout=30)
        upgraded = srv.ensure_server(root)
        proc.wait(timeout=60)  # the old, unauthenticated server was stopped
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert srv._is_authenticated(upgraded.pid)
    assert _modes(root) == []
    ws = Workspace.local(root)
    assert ws.rest.get_run(run_id).status == "FINISHED", "the store was kept"
    after = _probe(other_user, ws.tracking_uri,
                   [["POST", "/api/2.0/mlflow/experiments/create", json.dumps({"name": "y"}), None]],
                   [root / "mlflow.db", root / AUTH_FILE])
    assert after["statuses"] == [401] and set(after["reads"].values()) == {"denied"}, after


@pytest.mark.slow  # among the ten slowest of core + local + widgets (CONTRIBUTING.md)
def test_a_lost_secret_is_made_again_and_the_server_restarted_with_it(shared_parent):
    """The secret file removed (or never copied with the root): a new one, and the old one stops working."""
    parent, roots = shared_parent
    root = (parent / "lost").resolve()
    roots.append(root)
    first = srv.ensure_server(root)
    old = read_credentials(root)
    (root / AUTH_FILE).unlink()  # while its server runs
    second = srv.ensure_server(root)
    new = read_credentials(root)
    assert new.password != old.password and second.pid != first.pid
    url = second.url + "/api/2.0/mlflow/experiments/search?max_results=1"
    assert requests.get(url, auth=(new.username, new.password), timeout=30).ok
    assert requests.get(url, auth=(old.username, old.password), timeout=30).status_code == 401
    assert stat.S_IMODE((root / AUTH_FILE).stat().st_mode) == 0o600
    (root / AUTH_FILE).chmod(0o644)  # loosened by hand: tightened again when read
    read_credentials(root)
    assert stat.S_IMODE((root / AUTH_FILE).stat().st_mode) == 0o600


PLAIN_MLFLOW = """
import os
import mlflow
mlflow.log_metric("from_plain_mlflow", 3.0)
print("user", os.environ["MLFLOW_TRACKING_USERNAME"], "password", os.environ["MLFLOW_TRACKING_PASSWORD"])
"""


@pytest.mark.slow  # among the ten slowest of core + local + widgets (CONTRIBUTING.md)
def test_plain_mlflow_in_a_step_signs_in_with_a_user_that_dies_with_the_step(tmp_path):
    """Not the root's secret: a user of its own, deleted at the end, so a password it printed is dead."""
    root = tmp_path / ".steprun"
    try:
        ws = Workspace.local(root)
        experiment = Experiment(ws, "plain-mlflow")
        run = submit(experiment, [script_step(tmp_path, "plain", PLAIN_MLFLOW)])
        status = run.wait_for_completion(show_output=False, timeout_seconds=240, raise_on_error=False)
        step = run.find_step_run("plain")[0]
        assert status == layout.FINISHED, step.get_stderr_log()
        got = ws.transport.get_json("/api/2.0/mlflow/runs/get", {"run_id": step.id})["run"]["data"]
        assert {m["key"]: m["value"] for m in got.get("metrics", [])} == {"from_plain_mlflow": 3.0}
        line = next(ln for ln in step.get_stdout_log().splitlines() if ln.startswith("user "))
        user, password = line.split()[1::2]
        assert user == f"step-{step.id}" and user in step.get_job_log()
        creds = read_credentials(root)
        assert password != creds.password and creds.password not in step.get_stdout_log()
        probe = requests.get(ws.tracking_uri + "/api/2.0/mlflow/experiments/search?max_results=1",
                             auth=(user, password), timeout=30)
        assert probe.status_code == 401, "the step's user was deleted when the step ended"
    finally:
        srv.stop_server(root)
