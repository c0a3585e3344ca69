"""Helpers of the reliability suite: step scripts, deadlines, a stand-in browser, fake servers.

Everything here is bounded: every wait has a deadline, every server binds 127.0.0.1 and is stopped
by whoever started it, and only processes this test process started are ever signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from steprun_widgets import StepRunWidget
from tests.support import (  # noqa: F401  (re-exported for the suite's tests)
    RUNNER_MODULE,
    Recorder,
    kill_runners,
    runner_processes,
    script_step,
    stop_leftovers,
    submit,
    wait_terminal,
    wait_until,
    watch_widget,
    write_script,
)


# --- steps ------------------------------------------------------------------------------------------
# --- processes ----------------------------------------------------------------------------------------
def kill_server(server) -> None:
    """SIGKILL a tests.mlflow_server.MlflowServer this test started (its process group, by pid)."""
    assert server.proc is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(15)
    server.proc = None
    server.log.close()


# --- a stand-in for the browser -----------------------------------------------------------------------


def seen_text(widget: StepRunWidget, recorder: Recorder, first_logs: dict, stream: str) -> str:
    """The text of a stream as a browser saw it: the first synced tail, then the live messages."""
    start = first_logs.get(stream, {"tail": "", "seq": 0})
    return start["tail"] + recorder.log_text(stream, after_seq=start["seq"])


# --- tiny fake servers --------------------------------------------------------------------------------
def closed_port_url() -> str:
    """The URL of a port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FakeServer:
    """An ``http.server`` on 127.0.0.1 in a thread; ``answer(handler)`` returns (status, type, body).

    ``hang`` seconds of silence before any answer stand in for a server that does not reply.
    Stopped by ``stop()`` (the fixture that made it calls it).
    """

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], tuple[int, str, bytes]],
                 hang: float = 0.0) -> None:
        self.requests: list[tuple[str, str]] = []
        self.auth_headers: list[str | None] = []
        self._release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path))
                outer.auth_headers.append(self.headers.get("Authorization"))
                if hang:
                    outer._release.wait(hang)
                status, ctype, body = answer(self)
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name=f"fake-server-{self.url}")
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(10)


def json_answer(obj, status: int = 200) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(obj).encode()
