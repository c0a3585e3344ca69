"""Benchmark: what the embedded server costs, ours against today's way, in the same run.

Today's way is the ``mlflow server`` command the embedded default ran before (MLflow's basic-auth app,
``--workers 1``, job execution off): a launcher process that imports MLflow, plus the uvicorn process it
starts, which imports MLflow again. Ours is ``python -m steprun_widgets.local.serve``: MLflow's own
``server`` command in one process, serving the same app with uvicorn in that process.

Both get the same store layout and secret (each its own root), the same environment, loopback, a free
port. Measured for each:

- time to first answer: from starting the process to ``/health`` answering 200 (one after the other,
  not side by side, so they do not share the 2 cores while importing);
- RSS of the whole process tree (and USS: the memory the tree really owns, without shared pages) after
  a few API calls (create an experiment, a run, search runs, log a metric), when the app's modules are
  all loaded;
- idle CPU: CPU seconds the tree used over the same 60 s window for both (no request to either).

Bar: our tree <= 300 MiB RSS (asserted: memory, not a time), and smaller than today's. Times are
printed, not asserted.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import requests

from steprun_widgets.local import server as srv
from steprun_widgets.local.credentials import ensure_credentials
from steprun_widgets.local.private import UMASK
from tests.bench.report import publish, table

IDLE_SECONDS = 60.0
RSS_BAR_MIB = 300
MIB = 1024 * 1024


def _todays_command(root: Path, port: int) -> list[str]:
    """The command the embedded default ran before it served MLflow in one process."""
    import sys

    return [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
            "--backend-store-uri", srv._backend_uri(root), "--artifacts-destination", str(root / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]


class Server:
    def __init__(self, name: str, root: Path, command) -> None:
        self.name, self.root = name, root
        root.mkdir(parents=True)
        (root / "artifacts").mkdir()
        self.credentials, _ = ensure_credentials(root)
        self.port = srv._free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = command(root, self.port)
        self.proc: subprocess.Popen | None = None
        self.first_answer = 0.0

    def start(self) -> None:
        with open(self.root / "server.log", "ab") as log:
            started = time.perf_counter()
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.root,
                                         env=srv._server_env(self.root, self.credentials),
                                         start_new_session=True, umask=UMASK)
        deadline = time.monotonic() + 180
        while not srv._health(self.url, timeout=1.0):
            assert self.proc.poll() is None, (self.root / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, f"{self.name} did not answer"
            time.sleep(0.05)
        self.first_answer = time.perf_counter() - started

    def exercise(self) -> None:
        """A few API calls, so that every module a working server needs is loaded."""
        api = self.url + "/api/2.0/mlflow"
        auth = (self.credentials.username, self.credentials.password)
        exp = requests.post(f"{api}/experiments/create", json={"name": "bench"}, auth=auth, timeout=30).json()
        run = requests.post(f"{api}/runs/create", json={"experiment_id": exp["experiment_id"]}, auth=auth,
                            timeout=30).json()["run"]["info"]["run_id"]
        requests.post(f"{api}/runs/log-metric", json={"run_id": run, "key": "m", "value": 1.0, "timestamp": 0,
                                                      "step": 0}, auth=auth, timeout=30).raise_for_status()
        requests.post(f"{api}/runs/search", json={"experiment_ids": [exp["experiment_id"]]}, auth=auth,
                      timeout=30).raise_for_status()

    def tree(self) -> list[psutil.Process]:
        return srv.processes.tree(self.proc.pid)

    def memory(self) -> tuple[int, int]:
        """(RSS, USS) of the whole tree, bytes."""
        rss = uss = 0
        for proc in self.tree():
            with contextlib.suppress(psutil.Error):
                info = proc.memory_full_info()
                rss, uss = rss + info.rss, uss + info.uss
        return rss, uss

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.tree():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def stop(self) -> None:
        if self.proc is not None:
            srv.processes.stop_tree(self.proc.pid, grace=10)
            with contextlib.suppress(Exception):
                self.proc.wait(10)


@pytest.fixture
def servers(tmp_path):
    made = [Server("today: mlflow server (basic-auth, --workers 1)", tmp_path / "today", _todays_command),
            Server("ours: steprun_widgets.local.serve", tmp_path / "ours", srv._server_command)]
    yield made
    for server in made:
        server.stop()


def test_bench_embedded_server(servers):
    for server in servers:  # one after the other: starting imports MLflow, which wants the CPU
        server.start()
        server.exercise()
    memory = {s.name: s.memory() for s in servers}
    counts = {s.name: len(s.tree()) for s in servers}
    before = {s.name: s.cpu_seconds() for s in servers}
    time.sleep(IDLE_SECONDS)  # the same idle window for both
    idle_cpu = {s.name: s.cpu_seconds() - before[s.name] for s in servers}

    today, ours = servers
    rows = []
    for server in servers:
        rss, uss = memory[server.name]
        rows.append([server.name, counts[server.name], f"{rss / MIB:.0f}", f"{uss / MIB:.0f}",
                     f"{server.first_answer:.1f}", f"{idle_cpu[server.name]:.2f}",
                     f"{100 * idle_cpu[server.name] / IDLE_SECONDS:.2f}"])

    def ratio(pick) -> str:
        mine, theirs = pick(ours), pick(today)
        return f"{theirs / mine:.2f}x" if mine else "-"

    rows.append(["today / ours", "", ratio(lambda s: memory[s.name][0]), ratio(lambda s: memory[s.name][1]),
                 ratio(lambda s: s.first_answer), ratio(lambda s: idle_cpu[s.name]), ""])
    text = table(["server", "processes", "tree RSS MiB", "tree USS MiB", "first answer s",
                  f"idle CPU s / {IDLE_SECONDS:g} s", "idle CPU %"], rows)
    text += (f"\nbar: our tree <= {RSS_BAR_MIB} MiB RSS; measured {memory[ours.name][0] / MIB:.0f} MiB "
             f"(cpu count {os.cpu_count()}; times printed, not asserted)")
    publish("embedded_server", text)
    assert counts[ours.name] == 1
    assert memory[ours.name][0] <= RSS_BAR_MIB * MIB
    assert memory[ours.name][0] < memory[today.name][0]
