"""Helpers shared by the test suites: step scripts, deadlines, runner processes, a stand-in browser.

Everything is bounded: every wait has a deadline, and only processes this test process started
are ever signalled (by pid).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil

from steprun_widgets import Experiment, PipelineRun, StepRunWidget, Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep

T = TypeVar("T")
RUNNER_MODULE = "steprun_widgets.local.runner"


# --- steps and runs ---------------------------------------------------------------------------------
def write_script(folder: Path, name: str, code: str) -> Path:
    """Write a step script (dedented) into ``folder``; returns the folder (a source_directory)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    return folder


def script_step(folder: Path, name: str, code: str, *, inputs: tuple[PipelineData, ...] = (),
                outputs: tuple[PipelineData | str, ...] = (), allow_reuse: bool = False) -> PythonScriptStep:
    """A one-script step in its own folder; its inputs' then its outputs' folders are its arguments.

    An output given by name is a new ``PipelineData`` of that name.
    """
    outputs = tuple(PipelineData(o) if isinstance(o, str) else o for o in outputs)
    source = write_script(folder / name, f"{name}.py", code)
    return PythonScriptStep(f"{name}.py", name=name, arguments=[*inputs, *outputs], inputs=inputs,
                            outputs=outputs, source_directory=source, allow_reuse=allow_reuse)


def submit(experiment: Experiment, steps: list[PythonScriptStep], executor=None) -> PipelineRun:
    return experiment.submit(Pipeline(experiment.workspace, steps), executor=executor)


def embedded_workspace(server, token: str | None = None) -> Workspace:
    """A workspace on a test server laid out like the embedded default: the runner appends live
    logs straight into the server's artifact folder (``local_root``), as with ``Workspace.local``.

    The embedded server creates its artifact folder at start; ``mlflow server`` creates it only
    with the first artifact, and without it the runner falls back to re-uploading logs.
    """
    server.artifacts.mkdir(parents=True, exist_ok=True)
    ws = Workspace(server.url, token=token)
    ws.local_root = server.folder  # its artifacts/ is the server's --artifacts-destination
    return ws


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


def wait_terminal(run, timeout: float = 90.0) -> str:
    """Wait for a run to reach a final status (no output); returns it."""
    return wait_until(lambda: (s := run.get_status()) in layout.TERMINAL_STATUSES and s,
                      timeout, f"run {run.id} to end", interval=0.2)


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
    """Cancel the experiment's pipelines that are still going, kill their runners if any, and
    remove their work folders when the runner kept them in the shared temp dir (no ``local_root``).
    """
    rest = experiment.workspace.rest
    with contextlib.suppress(Exception):
        found = rest.get_experiment_by_name(experiment.name)
        if found is None:
            return
        runs = rest.search_runs([str(found["experiment_id"])],
                                f"tags.`{layout.TAG_RUN_SOURCE}` = '{layout.RUN_SOURCE_PIPELINE}'")
        for record in runs:
            if not layout.is_terminal(record.azureml_status()):
                with contextlib.suppress(Exception):
                    PipelineRun(experiment, record.run_id).cancel()
            kill_runners(record.run_id)
            if experiment.workspace.local_root is None:  # its work folder is in the shared temp dir
                shutil.rmtree(Path(tempfile.gettempdir()) / "steprun-widgets" / "work" / record.run_id,
                              ignore_errors=True)


# --- a stand-in for the browser -----------------------------------------------------------------------
class Recorder:
    """Stands in for the browser: keeps every custom message the widget sends.

    With ``ack`` set it acknowledges each ``download_chunk`` at once, as the frontend does; with
    ``keep_bytes`` False it counts chunk bytes and drops them.
    """

    def __init__(self, widget: StepRunWidget | None = None, *, ack: bool = True,
                 keep_bytes: bool = True) -> None:
        self.widget = widget
        self.ack = ack
        self.keep_bytes = keep_bytes
        self.messages: list[dict] = []
        #: request id -> the bytes of its ``download_chunk`` messages, in order
        self.chunks: dict[str, list[bytes]] = {}
        self.chunk_bytes: dict[str, int] = {}
        self._cond = threading.Condition()

    def __call__(self, content: dict, buffers=None) -> None:
        if content.get("type") == "download_chunk":
            rid = content["request_id"]
            data = bytes(buffers[0])
            self.chunk_bytes[rid] = self.chunk_bytes.get(rid, 0) + len(data)
            if self.keep_bytes:
                self.chunks.setdefault(rid, []).append(data)
            if self.ack and self.widget is not None:
                sender = self.widget._downloads.get(rid)
                if sender is not None:
                    sender.ack(content["received"])
        with self._cond:
            self.messages.append(content)
            self._cond.notify_all()

    def of(self, kind: str, **match) -> list[dict]:
        with self._cond:
            return [m for m in self.messages if m.get("type") == kind
                    and all(m.get(k) == v for k, v in match.items())]

    def wait_for(self, kind: str, timeout: float = 30.0, **match) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages if m.get("type") == kind
                         and all(m.get(k) == v for k, v in match.items())]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind!r} message {match} within {timeout:g} s; "
                                         f"got {[m.get('type') for m in self.messages]}")
                self._cond.wait(left)

    def wait_download(self, request_id: str, timeout: float = 60.0) -> dict:
        """The ``download_end`` or ``download_error`` of one request."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages:
                    if m.get("request_id") == request_id and m.get("type") in ("download_end",
                                                                               "download_error"):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"download {request_id} did not end within {timeout:g} s")
                self._cond.wait(left)

    def log_text(self, stream: str, after_seq: int = 0) -> str:
        """What the ``log`` messages of one stream add up to, checking their seq numbering."""
        texts = []
        last = after_seq
        for m in self.of("log", stream=stream):
            if m["seq"] <= after_seq:
                continue
            assert m["seq"] == last + 1, f"{stream}: seq {m['seq']} after {last}"
            last = m["seq"]
            texts.append(m["text"])
        return "".join(texts)


def watch_widget(step_run, *, register: bool = False, **kwargs) -> tuple[StepRunWidget, Recorder]:
    """A widget with a recorder in place of the browser (installed before anything is polled).

    The widget is created with ``poll=False`` so no tick can run before the recorder is in place;
    ``register`` then hands it to the kernel's background poller.
    """
    from steprun_widgets.widgets.poller import get_poller

    widget = StepRunWidget(step_run, poll=False, **kwargs)
    recorder = Recorder(widget)
    widget.send = recorder
    if register and not widget.watch.final:
        get_poller().register(widget)
    return widget, recorder


# --- runs written by MLflow's own client ------------------------------------------------------------
def mlflow_client(tracking_uri: str):
    """MLflow's own client on a test server, as another tool would use it (telemetry off: its
    background sender races with the client in short-lived test processes)."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow

    return mlflow.MlflowClient(tracking_uri)
