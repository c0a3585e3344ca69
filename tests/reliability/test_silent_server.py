"""A server that accepts connections and never answers: every public call ends with a clear error.

A black hole is a TCP socket on 127.0.0.1 that accepts and never reads or writes. Each public call
runs on a thread of its own (all at once, so the module costs one timeout, not one per call); the
test asserts each ENDS with a ServiceError naming the URL and saying the server is not answering.
The join deadline is a hang guard only, far above the documented bound, never a timing assertion.
The measured times are printed (``-s``) as a table.

A widget's poll runs on the poller's thread: with a proxy in front of the real server that goes
silent, the widget says "not answering" while the cell's thread stays free, and "ok" once it answers.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

import pytest

from steprun_widgets import Experiment, PipelineRun, StepRun, Workspace
from steprun_widgets.core.transport import INTERACTIVE_TIMEOUT
from steprun_widgets.errors import ServiceError
from steprun_widgets.local import Pipeline, PythonScriptStep
from tests.reliability.helpers import wait_until, watch_widget, write_script
from tests.runlayout import RunLayout

#: Far above the interactive bound (connect + read timeout): only there to end a hung test.
HANG_GUARD = 6 * sum(INTERACTIVE_TIMEOUT)


class BlackHole:
    """Accepts TCP connections on 127.0.0.1 and never answers; closed by ``close()``."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                self.held.append(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self.sock.close()
        for conn in self.held:
            conn.close()
        self._thread.join(5)


class SilencingProxy:
    """A TCP proxy on 127.0.0.1 to ``upstream``; ``silent = True`` makes it stop passing bytes on
    (open connections included), like a server that hangs. Closed by ``close()``."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.split("//", 1)[1].rstrip("/").split(":")
        self.upstream = (host, int(port))
        self.silent = False
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.sock.accept()
                server = socket.create_connection(self.upstream, timeout=10)
                self.conns += [client, server]
                for a, b in ((client, server), (server, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not self._closed:
                data = src.recv(65536)
                if not data:
                    break
                while self.silent and not self._closed:  # hold the bytes: the peer hears nothing
                    time.sleep(0.05)
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()


@pytest.fixture
def black_hole():
    hole = BlackHole()
    yield hole
    hole.close()


def _calls(url: str, src) -> dict[str, Callable[[], object]]:
    ws = Workspace(url, token="t0k3n-silent")
    exp = Experiment(ws, "exp")
    step = StepRun(exp, "0123abcd", "p", None)
    pipeline = Pipeline(ws, [PythonScriptStep("s.py", source_directory=src)])
    return {
        "ws.experiments": lambda: ws.experiments,
        "Experiment.id": lambda: exp.id,
        "PipelineRun.get_status()": lambda: PipelineRun(exp, "0123abcd").get_status(),
        "StepRun.get_status()": step.get_status,
        "StepRun.get_stdout_log()": step.get_stdout_log,
        "StepRun.get_outputs()": step.get_outputs,
        "Experiment.submit()": lambda: exp.submit(pipeline),
    }


def test_every_public_call_ends_with_a_clear_error_on_a_silent_server(black_hole, tmp_path):
    src = write_script(tmp_path / "src", "s.py", "print('never runs')\n")
    results: dict[str, tuple[float, BaseException | None]] = {}

    def call(name: str, fn: Callable[[], object]) -> None:
        started = time.monotonic()
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - recorded and asserted below
            results[name] = (time.monotonic() - started, exc)
        else:
            results[name] = (time.monotonic() - started, None)

    threads = [threading.Thread(target=call, args=item, daemon=True)
               for item in _calls(black_hole.url, src).items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_GUARD)
    hung = [name for name in _calls(black_hole.url, src) if name not in results]
    assert not hung, f"still waiting after {HANG_GUARD:g} s: {hung}"
    print(f"\nsilent server (accepts, never answers); interactive timeout {INTERACTIVE_TIMEOUT}")
    print(f"{'call':<28} {'s to error':>10}  error")
    for name, (took, exc) in results.items():
        print(f"{name:<28} {took:>10.1f}  {exc}")
    for name, (_, exc) in results.items():
        assert isinstance(exc, ServiceError), f"{name}: {exc!r}"
        assert black_hole.url in str(exc) and "not answering" in str(exc), f"{name}: {exc}"


def test_a_widget_says_the_server_is_not_answering_without_blocking_the_cell(mlflow_server,
                                                                            experiment_name):
    proxy = SilencingProxy(mlflow_server.url)
    try:
        ws = Workspace(proxy.url)
        runs = RunLayout(Workspace(mlflow_server.url), experiment_name)
        pipeline = runs.pipeline(steps=["prep"], heartbeat=True)
        record = runs.step(pipeline, "prep")
        step = StepRun(Experiment(ws, experiment_name), record.run_id, pipeline.run_id, "node-prep")
        widget, _ = watch_widget(step, register=True)
        wait_until(lambda: widget.connection == "ok" and widget.status == "Running", 30, "a first poll")
        proxy.silent = True
        started = time.monotonic()
        wait_until(lambda: widget.connection == "reconnecting", HANG_GUARD, "the widget to notice")
        noticed = time.monotonic() - started
        assert "not answering" in widget.connection_detail, widget.connection_detail
        assert proxy.url in widget.connection_detail, widget.connection_detail
        print(f"\nthe widget said {widget.connection_detail!r} after {noticed:.1f} s of silence")
        proxy.silent = False
        wait_until(lambda: widget.connection == "ok", HANG_GUARD, "the widget to see the server back")
        widget.close()
    finally:
        proxy.close()
