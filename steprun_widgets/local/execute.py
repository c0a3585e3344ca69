"""Running one step: its process, its live logs, its outputs, its heartbeat and its status.

:func:`execute_step` is a plain module-level function of plain data, so it runs the same in a
thread of the runner and as a task on a Dask worker (which talks to the same server).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from steprun_widgets.core import layout
from steprun_widgets.core.cancel import CANCELED_ERROR
from steprun_widgets.core.outputs import download_output
from steprun_widgets.core.rest import MlflowRest
from steprun_widgets.core.transport import RUNNER_READ_TIMEOUT_RETRIES, RUNNER_TIMEOUT
from steprun_widgets.core.workspace import Workspace
from steprun_widgets.errors import ServiceError, StepRunError, redact
from steprun_widgets.local import posix, processes
from steprun_widgets.local.data_prepare import (
    data_reference_text,
    finish_output_datasets,
    prepare_data_inputs,
)
from steprun_widgets.local.logship import make_sink
from steprun_widgets.local.metricship import MetricShipper
from steprun_widgets.local.plan import (
    CONTEXT_ENV,
    INPUT_DATASETS_ENV,
    RUN_ID_ENV,
    STEP_UMASK_ENV,
    PipelinePlan,
    RunnerCredentials,
    StepPlan,
)
from steprun_widgets.local.step_access import step_user
from steprun_widgets.local.workarea import StepArea, step_folder, work_area

PIPE_CHUNK = 64 * 1024
POLL = 0.2
CANCEL_CHECK_EVERY = 1.0
#: How often a running step publishes its log sizes (pollers read them to skip unchanged logs).
SIZES_EVERY = 0.5
TERMINATE_GRACE = 2.5
#: After the script exits, how long its output may take to drain before leftovers are killed.
DRAIN_GRACE = 2.0


#: The runner's requests are retried this many times (urllib3 backoff capped at 4 s: about two
#: minutes), so a tracking server that restarts while a step runs or ends costs a delay, not the
#: pipeline: its status, outputs and last log bytes are recorded once the server is back. A silent
#: server (read timeouts) and an artifact PUT answered 500 have smaller budgets (core/transport.py).
RUNNER_RETRIES = 32


def now_ms() -> int:
    return int(time.time() * 1000)


#: Credentials of the tracking server the runner may have in its environment: a step never gets them.
SECRET_ENV = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "STEPRUN_RUNNER_TOKEN",
              "STEPRUN_RUNNER_PASSWORD", STEP_UMASK_ENV)
#: The folder whose sitecustomize keeps MLflow in a step from ending the step's own run.
STEP_SITE = str(Path(__file__).resolve().parent / "stepsite")


def step_environment(credentials: RunnerCredentials | None) -> dict[str, str]:
    """The environment of a step's process: the runner's, without the tracking server's credentials.

    A step that prints its environment (a common debugging line) would otherwise put the
    submitter's token or password into a log that everyone who can read the run sees.
    """
    secrets = credentials.secrets if credentials is not None else ()
    env = {k: v for k, v in os.environ.items()
           if k not in SECRET_ENV and not any(s in v for s in secrets)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def needs_credentials(tracking_uri: str, credentials: RunnerCredentials | None) -> bool:
    """True when the runner talks to the server with credentials (a token, a user name)."""
    from urllib.parse import urlsplit

    from steprun_widgets.core.credentials import TOKEN_ENV as MLFLOW_TOKEN_ENV
    from steprun_widgets.core.credentials import USERNAME_ENV

    return bool((credentials is not None and (credentials.token or credentials.username))
                or urlsplit(tracking_uri).username or os.environ.get(USERNAME_ENV)
                or os.environ.get(MLFLOW_TOKEN_ENV))


def context_environment(env: dict[str, str], plan: PipelinePlan, step: StepPlan, channel: Path,
                        credentials: RunnerCredentials | None,
                        sign_in: Mapping[str, str] | None = None) -> dict[str, str]:
    """Add what a step needs to log into its run: the channel of ``Run.get_context()`` and, when
    the server needs no credentials or the step has a sign-in of its own (``sign_in``, the embedded
    default: see ``step_access``), ``MLFLOW_RUN_ID``/``MLFLOW_TRACKING_URI`` for plain MLflow
    (with the sitecustomize that keeps MLflow from ending the run: the runner owns its status)."""
    env = {**env, CONTEXT_ENV: str(channel), RUN_ID_ENV: step.run_id}
    if sign_in is not None or not needs_credentials(plan.tracking_uri, credentials):
        env.update(sign_in or {})
        env["MLFLOW_TRACKING_URI"] = plan.tracking_uri
        env["MLFLOW_RUN_ID"] = step.run_id
        env["MLFLOW_EXPERIMENT_ID"] = plan.experiment_id
        env.pop("MLFLOW_EXPERIMENT_NAME", None)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (STEP_SITE, env.get("PYTHONPATH")) if p)
    return env


def runner_workspace(plan: PipelinePlan, credentials: RunnerCredentials | None,
                     retries: int = RUNNER_RETRIES) -> Workspace:
    """The workspace the runner and its steps talk through: patient with a server that restarts,
    and following an embedded server that was restarted on another port."""
    credentials = credentials or RunnerCredentials()
    workspace = Workspace(plan.tracking_uri, token=credentials.token, username=credentials.username,
                          password=credentials.password, retries=retries, timeout=RUNNER_TIMEOUT,
                          read_timeout_retries=RUNNER_READ_TIMEOUT_RETRIES)
    if plan.server_root:
        from steprun_widgets.local.server import recorded_url

        root = plan.server_root
        workspace.transport.follow(lambda: recorded_url(root))
    return workspace


def _step_umask() -> int | None:
    """The umask a step gets back: the submitter's, when the runner itself runs with ``077``."""
    try:
        return int(os.environ[STEP_UMASK_ENV], 8)
    except (KeyError, ValueError):
        return None


def _signal_step(pid: int, sig: int | None) -> None:
    """Signal a step's process group (POSIX), or end its process tree (Windows: no groups to signal)."""
    if posix.AVAILABLE:
        posix.kill_group(pid, sig)
        return
    for proc in processes.tree(pid):
        with contextlib.suppress(Exception):
            proc.kill() if sig is None else proc.terminate()


class _CanceledBeforeStart(Exception):
    """The step was canceled after it was marked Running, before its script started."""


class StepProcess:
    """The step's process group, with pumps that copy its stdout/stderr into log sinks."""

    def __init__(self, argv: list[str], cwd: str, env: dict[str, str], stdout_sink, stderr_sink) -> None:
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, **processes.group_kwargs(_step_umask()))
        self.started_at = time.monotonic()
        #: When the script exited (monotonic), noted by a thread of its own: the supervision loop
        #: may be stuck in a request to a server that is away, which is not the script's time.
        self.ended_at: float | None = None
        #: The first error a pump met handing bytes to its sink (it kept draining the pipe).
        self.pump_error: str | None = None
        self.stderr_tail: deque[bytes] = deque(maxlen=64)
        #: True when processes the script left holding its output were killed after it exited.
        self.killed_leftovers = False
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, stdout_sink, None), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, stderr_sink, self.stderr_tail),
                             daemon=True),
        ]
        self._waiter = threading.Thread(target=self._note_exit, daemon=True)
        for thread in (*self._pumps, self._waiter):
            thread.start()

    def _note_exit(self) -> None:
        self.proc.wait()
        self.ended_at = time.monotonic()

    @property
    def took(self) -> float:
        """Seconds the script ran (so far, while it runs)."""
        return (self.ended_at or time.monotonic()) - self.started_at

    def _pump(self, pipe, sink, tail: deque | None) -> None:
        # The pipe is always drained to its end, whatever the sink does: a script must never block
        # on a full pipe because its log cannot be stored (the sink says so; the step fails).
        fd = pipe.fileno()
        while True:
            data = os.read(fd, PIPE_CHUNK)
            if not data:
                break
            try:
                sink.write(data)
            except Exception as exc:
                if self.pump_error is None:
                    self.pump_error = redact(f"{type(exc).__name__}: {exc}")[:300]
            if tail is not None:
                tail.append(data)
        pipe.close()

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float) -> int | None:
        """Wait at most ``timeout`` seconds for the script to exit; its exit code, or None."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left after a grace period."""
        for sig, wait in ((signal.SIGTERM, TERMINATE_GRACE), (None, 5.0)):
            _signal_step(self.proc.pid, sig)
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        _signal_step(self.proc.pid, None)  # children that outlived the leader

    def finish(self) -> int:
        """Wait for the script, then for its output to drain.

        Processes the script started and left running keep its stdout/stderr open, so the logs
        would never end and the step would stay Running: after DRAIN_GRACE they are killed.
        """
        rc = self.proc.wait()
        deadline = time.monotonic() + DRAIN_GRACE
        for pump in self._pumps:
            pump.join(max(0.0, deadline - time.monotonic()))
        if any(pump.is_alive() for pump in self._pumps):
            self.killed_leftovers = True
            _signal_step(self.proc.pid, None)
        for pump in self._pumps:
            pump.join()
        self._waiter.join()
        return rc

    def last_stderr_line(self) -> str:
        text = b"".join(self.stderr_tail).decode("utf-8", errors="replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return lines[-1][:300] if lines else ""


def describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"


class Heartbeat:
    """Refreshes a step's heartbeat tag from a thread for as long as the step is being worked on.

    Beating from a thread, not from the supervision loop, keeps the step alive while its inputs
    download, its outputs upload or its last log bytes ship, all of which can take longer than
    the stale limit on a slow link.
    """

    def __init__(self, rest: MlflowRest, run_id: str) -> None:
        self._rest = rest
        self._run_id = run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"steprun-heartbeat-{run_id[:8]}",
                                        daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)

    def _beat(self) -> None:
        while not self._stop.wait(layout.HEARTBEAT_INTERVAL):
            with contextlib.suppress(Exception):  # the server may be restarting: beat again later
                self._rest.set_tag(self._run_id, layout.TAG_HEARTBEAT, layout.heartbeat_value())


def execute_step(plan: PipelinePlan, step_name: str, credentials: RunnerCredentials | None = None,
                 cancel: threading.Event | None = None) -> dict:
    """Run one step to its end and record everything on the server; returns status and error.

    ``credentials`` are the tracking server's (the step's process never gets them). ``cancel`` is the
    runner's event when running in its process; elsewhere (a Dask worker) the pipeline's cancel tag is
    polled instead. The step's own cancel tag (``StepRun.cancel()``) is read before it starts, again
    once its inputs are ready, and about once a second while its script runs.
    """
    step = plan.step(step_name)
    rest = runner_workspace(plan, credentials).rest
    run = rest.get_run(step.run_id)
    if layout.is_terminal(before := run.azureml_status()):
        # ended before it started (StepRun.cancel() marks a waiting step Canceled): it never runs
        return {"status": before, "error": run.tags.get(layout.TAG_ERROR, "")}
    if run.tags.get(layout.TAG_CANCEL_REQUESTED) == "true":
        # the tag without the end (the client that set it stopped before ending the run): end it here
        rest.set_tag(step.run_id, layout.TAG_ERROR, CANCELED_ERROR)
        rest.update_run(step.run_id, layout.MLFLOW_STATUS[layout.CANCELED], now_ms())
        return {"status": layout.CANCELED, "error": CANCELED_ERROR}
    work = Path(plan.work_dir)
    here = work.is_dir()
    if not here:  # a worker on another machine
        work = work_area(None) / plan.pipeline_run_id
    # Locked while the step works in it; removed (or kept if it fails) once its status is final.
    # Outputs that later steps read on this machine stay until the runner releases them.
    area = StepArea(work, step.name, plan.retention, keep_outputs=here and bool(plan.dependents(step.name)),
                    record={"tracking_uri": plan.tracking_uri, "pipeline_run_id": plan.pipeline_run_id})
    step_dir = area.path
    spool = step_dir / "spool"
    sinks = {name: make_sink(rest, run, path, plan.local_artifacts, spool)
             for name, path in layout.LOG_FILES.items()}

    def job(line: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        sinks["job"].write(f"[{stamp}] {line}\n".encode())

    status, error = layout.FAILED, ""
    shipper: MetricShipper | None = None
    signed_in = contextlib.ExitStack()  # the step's own user on the embedded server, deleted at the end
    heartbeat = Heartbeat(rest, step.run_id).start()
    try:
        rest.set_tags(step.run_id, {layout.TAG_NOT_STARTED: "false", layout.TAG_STARTED_AT: str(now_ms()),
                                    layout.TAG_HEARTBEAT: layout.heartbeat_value()})
        rest.update_run(step.run_id, layout.MLFLOW_STATUS[layout.RUNNING])
        folders = _prepare_data(rest, plan, step, step_dir, job)
        input_datasets = prepare_data_inputs(rest, step, step_dir, folders, job)
        early = False
        with contextlib.suppress(Exception):  # the server away: _supervise asks again each second
            early = _cancel_requested(rest, plan, step, cancel)
        if early:  # canceled while it started, or while its inputs came
            raise _CanceledBeforeStart
        python = step.python or plan.python or sys.executable
        resolved = [folders[a["data"]] if isinstance(a, dict) else data_reference_text(a, folders)
                    for a in step.arguments]
        argv = resolved if step.command else [python, step.script_name, *resolved]
        job(f"Step {step.name!r} (run {step.run_id}) starting on {socket.gethostname()} in "
            f"{step.source_directory}: {' '.join(argv if step.command else argv[1:])}")
        channel = MetricShipper.prepare(step_dir / "context")
        shipper = MetricShipper(rest, run, channel.parent, plan.local_artifacts, job)
        sign_in = None
        if plan.embedded and credentials is not None and credentials.username:
            sign_in = signed_in.enter_context(step_user(rest, step.run_id))
            job(f"The step signs in to the embedded server as {sign_in['MLFLOW_TRACKING_USERNAME']!r} "
                "(a user that is deleted when the step ends)")
        # the run configuration's variables first: the step context's own may not be overridden
        env = context_environment({**step_environment(credentials), **step.environment}, plan, step,
                                  channel, credentials, sign_in)
        if input_datasets:
            env[INPUT_DATASETS_ENV] = json.dumps(input_datasets)
        if step.command:  # ``python`` in a command is the step's Python
            env["PATH"] = os.pathsep.join([os.path.dirname(python), env.get("PATH", "")])
        if plan.dask_address:  # a ParallelRunStep there runs its mini-batches as Dask tasks
            env["STEPRUN_DASK_SCHEDULER"] = plan.dask_address
        process = StepProcess(argv, step.source_directory, env, sinks["stdout"], sinks["stderr"])
        canceled, lost = _supervise(process, rest, plan, step, sinks, cancel, shipper)
        rc = process.finish()
        took = process.took
        _drain(shipper, job)
        shipper = None
        if process.killed_leftovers:
            job("The script left processes running that held its output: they were killed")
        lost = lost or process.pump_error
        if lost:
            error = f"{lost}; the script was stopped after {took:.1f} s" if rc != 0 else lost
            job(f"Step failed: {error}")
        elif canceled:
            status, error = layout.CANCELED, CANCELED_ERROR
            job(f"Step canceled; the process was stopped after {took:.1f} s")
        elif rc != 0:
            error = describe_exit(rc)
            last = process.last_stderr_line()
            error = f"{error}: {last}" if last else error
            job(f"Step failed after {took:.1f} s: {error}")
        else:
            job(f"Script ended with exit code 0 after {took:.1f} s")
            _upload_outputs(rest, run, step, step_dir, job)
            status = layout.FINISHED
    except _CanceledBeforeStart:
        status, error = layout.CANCELED, CANCELED_ERROR
        job("Step canceled before its script started")
    except Exception as exc:  # anything else: the step fails with a reason, it never stays Running
        error = redact(f"{type(exc).__name__}: {exc}")[:500]
        with contextlib.suppress(Exception):
            job(f"Step failed: {error}")
    finally:
        if shipper is not None:  # the step ended through an error: still ship what it handed over
            _drain(shipper, job)
        with contextlib.suppress(Exception):
            signed_in.close()
        if note := area.kept_note(status):
            with contextlib.suppress(Exception):
                job(note)
        # A step is Finished only when each of its logs holds every byte: else it fails saying why.
        for name in ("stdout", "stderr", "job"):
            try:
                problem = sinks[name].finish()
            except Exception as exc:
                problem = redact(f"The {name} log could not be closed: {type(exc).__name__}: {exc}")
            if problem and status != layout.CANCELED:
                status = layout.FAILED
                said = problem.split(";")[0] in error  # the supervision loop failed the step for it
                error = error or problem
                if name != "job" and not said:
                    with contextlib.suppress(Exception):
                        job(f"Step failed: {problem}")
        heartbeat.stop()
        tags = {layout.TAG_HEARTBEAT: layout.heartbeat_value(),
                layout.TAG_LOG_SIZES: layout.encode_log_sizes(log_sizes(sinks))}
        if error:
            tags[layout.TAG_ERROR] = error.replace("\n", " ")[:1000]
        try:
            rest.set_tags(step.run_id, tags)
            rest.update_run(step.run_id, layout.MLFLOW_STATUS[status], now_ms())
            area.settle(status)
        finally:
            area.release()  # unsettled (the server never took the status): `clean` decides later
    return {"status": status, "error": error}


def _drain(shipper: MetricShipper, job) -> None:
    """Ship the rest of what the step logged; a server that stays away costs those values, said so."""
    try:
        shipper.drain()
    except Exception as exc:
        with contextlib.suppress(Exception):
            job(f"What the step logged after channel offset {shipper.shipped_offset} could not be "
                f"shipped: {redact(str(exc))[:300]}")


def _supervise(process: StepProcess, rest: MlflowRest, plan: PipelinePlan, step: StepPlan, sinks: dict,
               cancel: threading.Event | None, shipper: MetricShipper) -> tuple[bool, str | None]:
    """Wait for the process: ship logs, publish their sizes, stop it on cancel or when one of its
    logs can no longer be stored whole (see logship.HeldFile).

    Returns (canceled, why a log cannot be whole or None).
    """
    last_check = last_sizes_at = time.monotonic()
    published: dict[str, int] = {}
    while process.poll() is None:
        process.wait(POLL)  # returns as soon as the script exits: a short step ends at once
        for sink in sinks.values():
            with contextlib.suppress(Exception):  # server down: the upload is retried next round
                sink.tick()
        with contextlib.suppress(Exception):  # server down: what is pending ships next round
            shipper.tick()
        now = time.monotonic()
        sizes = log_sizes(sinks)
        if sizes != published and now - last_sizes_at >= SIZES_EVERY:
            with contextlib.suppress(Exception):  # a server hiccup must not kill the step
                rest.set_tag(step.run_id, layout.TAG_LOG_SIZES, layout.encode_log_sizes(sizes))
                published, last_sizes_at = sizes, now
        requested = cancel is not None and cancel.is_set()
        if not requested and now - last_check >= CANCEL_CHECK_EVERY:
            last_check = now
            with contextlib.suppress(Exception):  # server down: asked again next round
                requested = _cancel_requested(rest, plan, step, cancel)
        if requested:
            process.stop()
            return True, None
        lost = next((p for sink in sinks.values() if (p := sink.problem())), None)
        if lost:
            process.stop()
            return False, lost
    return False, None


def _cancel_requested(rest: MlflowRest, plan: PipelinePlan, step: StepPlan,
                      cancel: threading.Event | None) -> bool:
    """The runner's event, the step's own cancel tag (StepRun.cancel()), and the pipeline's tag
    where no event of the runner's process says it (a Dask worker)."""
    if cancel is not None and cancel.is_set():
        return True
    if rest.get_run(step.run_id).tags.get(layout.TAG_CANCEL_REQUESTED) == "true":
        return True
    if cancel is not None:
        return False
    return rest.get_run(plan.pipeline_run_id).tags.get(layout.TAG_CANCEL_REQUESTED) == "true"


def log_sizes(sinks: dict) -> dict[str, int]:
    return {name: sink.visible_size for name, sink in sinks.items()}


def _prepare_data(rest: MlflowRest, plan: PipelinePlan, step: StepPlan, step_dir: Path, job) -> dict:
    """Folder of every PipelineData the step reads or writes: inputs local or downloaded, outputs empty."""
    folders: dict[str, str] = {}
    for inp in step.inputs:
        producer = plan.step(inp.producer)
        local = Path(plan.work_dir) / step_folder(producer.name) / "outputs" / inp.artifact_name
        if not producer.reused and local.is_dir():
            folders[inp.data] = str(local)
            continue
        dest = step_dir / "inputs" / inp.data
        if dest.exists():
            shutil.rmtree(dest)
        files = download_output(rest, rest.get_run(inp.producer_run_id), inp.artifact_name, dest)
        job(f"Input {inp.data!r}: {len(files)} file(s) downloaded from run {inp.producer_run_id}")
        folders[inp.data] = str(dest)
    for name in step.outputs:
        folder = step_dir / "outputs" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        folders[name] = str(folder)
    return folders


def _upload_outputs(rest: MlflowRest, run, step: StepPlan, step_dir: Path, job) -> None:
    for name in step.outputs:
        folder = step_dir / "outputs" / name
        if not folder.is_dir():
            raise StepRunError(f"Output {name!r} of step {step.name!r}: its folder {str(folder)!r} "
                               "is missing (removed before upload)")
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        total = 0
        for path in files:
            rel = path.relative_to(folder).as_posix()
            try:
                with open(path, "rb") as f:
                    rest.upload_artifact(run, f"{layout.output_path(name)}/{rel}", f)
            except ServiceError as exc:
                if (exc.status_code or 0) < 500:
                    raise
                raise StepRunError(f"Output {name!r} of step {step.name!r}: the server did not store "
                                   f"{rel!r} (its artifact store may be full or not writable): "
                                   f"{exc}") from None
            total += path.stat().st_size
        job(f"Output {name!r}: {len(files)} file(s), {total} bytes uploaded")
    if step.output_datasets:
        finish_output_datasets(rest, run, step, step_dir, job)
