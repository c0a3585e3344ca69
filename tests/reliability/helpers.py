"""Helpers of the reliability suite: step scripts, deadlines, a stand-in browser, fake servers.

Everything here is bounded: every wait has a deadline, every server binds 127.0.0.1 and is stopped
by whoever started it, and only processes this test process started are ever signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import psutil

from steprun_widgets import Experiment, PipelineRun, StepRunWidget
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep

T = TypeVar("T")
RUNNER_MODULE = "steprun_widgets.local.runner"


# --- steps ------------------------------------------------------------------------------------------
def write_script(folder: Path, name: str, code: str) -> Path:
    """Write a step script (dedented) into ``folder``; returns the folder (a source_directory)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    return folder


def script_step(folder: Path, name: str, code: str, *, outputs: tuple[PipelineData, ...] = (),
                inputs: tuple[PipelineData, ...] = (), allow_reuse: bool = False) -> PythonScriptStep:
    """A one-script step in its own folder; its inputs' then its outputs' folders are its arguments."""
    source = write_script(folder / name, f"{name}.py", code)
    return PythonScriptStep(f"{name}.py", name=name, arguments=[*inputs, *outputs], inputs=inputs,
                            outputs=outputs, source_directory=source, allow_reuse=allow_reuse)


def submit(experiment: Experiment, steps: list[PythonScriptStep]) -> PipelineRun:
    return experiment.submit(Pipeline(experiment.workspace, steps))


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def wait_terminal(run, timeout: float = 90.0) -> str:
    return wait_until(lambda: (s := run.get_status()) in layout.TERMINAL_STATUSES and s, timeout,
                      f"run {run.id} to end", interval=0.3)


# --- processes ----------------------------------------------------------------------------------------
def runner_processes(run_id: str) -> list[psutil.Process]:
    """Runner processes this test process started (its children) for the pipeline ``run_id``."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            cmdline = proc.cmdline()
        except psutil.Error:
            continue
        if RUNNER_MODULE in cmdline and any(run_id in part for part in cmdline):
            found.append(proc)
    return found


def kill_runners(run_id: str) -> None:
    """SIGKILL the runner(s) this test process started for ``run_id``, by pid."""
    for proc in runner_processes(run_id):
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


def stop_leftovers(experiment: Experiment) -> None:
    """Cancel what the experiment still has going, then kill the runners this process started."""
    rest = experiment.workspace.rest
    with contextlib.suppress(Exception):
        found = rest.get_experiment_by_name(experiment.name)
        if found is None:
            return
        runs = rest.search_runs([str(found["experiment_id"])],
                                f"tags.`{layout.TAG_RUN_SOURCE}` = '{layout.RUN_SOURCE_PIPELINE}'")
        for record in runs:
            if not layout.is_terminal(record.seed_status()):
                with contextlib.suppress(Exception):
                    PipelineRun(experiment, record.run_id).cancel()
            kill_runners(record.run_id)
            # the work folder a runner without local_root leaves in the shared temp dir
            shutil.rmtree(Path(tempfile.gettempdir()) / "steprun-widgets" / "work" / record.run_id,
                          ignore_errors=True)


def kill_server(server) -> None:
    """SIGKILL a tests.mlflow_server.MlflowServer this test started (its process group, by pid)."""
    assert server.proc is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(15)
    server.proc = None
    server.log.close()


# --- a stand-in for the browser -----------------------------------------------------------------------
class Recorder:
    """Takes the place of ``widget.send``: keeps every custom message the widget sends."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        #: The bytes of every ``download_chunk``, in order.
        self.chunks: list[bytes] = []
        self._lock = threading.Lock()

    def __call__(self, content: dict, buffers=None) -> None:
        with self._lock:
            self.messages.append(content)
            if content.get("type") == "download_chunk" and buffers:
                self.chunks.append(bytes(buffers[0]))

    def of(self, kind: str, **match) -> list[dict]:
        with self._lock:
            return [m for m in self.messages if m.get("type") == kind
                    and all(m.get(k) == v for k, v in match.items())]

    def log_text(self, stream: str, after_seq: int = 0) -> str:
        """What the ``log`` messages of one stream add up to; checks that no seq is missing."""
        texts, last = [], after_seq
        for m in self.of("log", stream=stream):
            if m["seq"] <= after_seq:
                continue
            assert m["seq"] == last + 1, f"{stream}: message seq {m['seq']} after {last}"
            last = m["seq"]
            texts.append(m["text"])
        return "".join(texts)


def watch_widget(step_run, *, register: bool = False, **kwargs) -> tuple[StepRunWidget, Recorder]:
    """A StepRunWidget whose browser end is a Recorder (in place before anything is polled)."""
    from steprun_widgets.widgets.poller import get_poller

    widget = StepRunWidget(step_run, poll=False, **kwargs)
    recorder = Recorder()
    widget.send = recorder
    if register and not widget.watch.final:
        get_poller().register(widget)
    return widget, recorder


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
