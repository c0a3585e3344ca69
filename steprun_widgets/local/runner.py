"""The pipeline runner: drives one submitted pipeline to its end.

Started detached by ``Experiment.submit`` (``python -m steprun_widgets.local.runner PLAN``) so the
run goes on when the notebook kernel restarts; it runs steps in dependency order, independent
ones in parallel, on local processes or on a Dask cluster, and keeps the pipeline's heartbeat.

A runner follows an embedded server that was restarted on another port (it re-reads the root's
server record). One that cannot reach its tracking server at all for ``STEPRUN_SERVER_LOST_AFTER``
seconds (default 300) stops its steps' processes, records them and the pipeline Failed ("the
tracking server went away") if the server answers that last call, and exits: it never waits forever.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from steprun_widgets.core import layout
from steprun_widgets.core.cancel import CANCELED_ERROR
from steprun_widgets.errors import ServiceError, redact
from steprun_widgets.local import processes, workarea
from steprun_widgets.local.execute import execute_step, now_ms, runner_workspace
from steprun_widgets.local.plan import PipelinePlan, RunnerCredentials
from steprun_widgets.local.step_access import sweep_step_users

LOOP = 0.1
CANCEL_POLL = 0.5
#: Environment variable: seconds without reaching the tracking server after which a runner gives up.
SERVER_LOST_ENV = "STEPRUN_SERVER_LOST_AFTER"
DEFAULT_SERVER_LOST_AFTER = 300.0
#: The error of the steps and the pipeline of a runner that lost its server.
SERVER_GONE_ERROR = "the tracking server went away"
#: How long steps that were told to stop get to end after the server was lost.
_LOST_GRACE = 15.0
#: How long a runner that lost its server tries to record the steps Failed before it exits.
_LAST_WORDS = 60.0


def server_lost_after() -> float:
    """Seconds without reaching the tracking server after which the runner gives up (``> 0``)."""
    try:
        value = float(os.environ.get(SERVER_LOST_ENV, "") or DEFAULT_SERVER_LOST_AFTER)
    except ValueError:
        value = DEFAULT_SERVER_LOST_AFTER
    return value if value > 0 else DEFAULT_SERVER_LOST_AFTER


class PipelineDriver:
    """Schedules the steps of one plan on an executor and records the pipeline's status."""

    def __init__(self, plan: PipelinePlan, credentials: RunnerCredentials | None = None,
                 executor: Any = None) -> None:
        self.plan = plan
        self.credentials = credentials or RunnerCredentials()
        self.rest = runner_workspace(plan, self.credentials).rest
        #: For the heartbeat and the last words of a runner that lost its server: few retries, so
        #: that a server that is gone is noticed in seconds (the main ``rest`` retries for minutes).
        self._quick = runner_workspace(plan, self.credentials, retries=2).rest
        self._executor = executor
        self.cancel = threading.Event()
        #: Set when the tracking server could not be reached for ``server_lost_after()`` seconds.
        self.lost = threading.Event()
        self._lost_after = server_lost_after()
        self._stop = threading.Event()

    def run(self) -> str:
        """Drive the pipeline; whatever happens, the pipeline and its steps end in a final status."""
        folder = Path(self.plan.work_dir)
        try:  # held while this runner lives: `clean` never touches the folder meanwhile
            lock = workarea.hold_pipeline(folder)
        except (OSError, workarea.WorkAreaError) as exc:  # then `clean` goes by the server's status
            lock = None
            print(f"warning: no lock on the work folder {folder}: {exc}", file=sys.stderr, flush=True)
        beat = threading.Thread(target=self._heartbeat, daemon=True, name="steprun-heartbeat")
        beat.start()
        self._sweep_step_users()
        try:
            status, error = self._drive()
            if self.lost.is_set():
                return self._give_up(folder, lock)
        except BaseException as exc:
            status, error = layout.FAILED, redact(f"runner error: {type(exc).__name__}: {exc}")[:500]
            traceback.print_exc()
            self._end_leftovers(layout.FAILED, error)
        finally:
            self._stop.set()
        tags = {layout.TAG_HEARTBEAT: layout.heartbeat_value()}
        if error:
            tags[layout.TAG_ERROR] = error
        self.rest.set_tags(self.plan.pipeline_run_id, tags)
        try:
            self.rest.update_run(self.plan.pipeline_run_id, layout.MLFLOW_STATUS[status], now_ms())
            workarea.settle_pipeline(folder, status, self.plan.retention, lock)
        finally:
            if lock is not None:
                lock.release()
        return status

    def _executor_and_submit(self):
        """An executor and a function that starts one step on it."""
        plan, credentials = self.plan, self.credentials
        if plan.dask_address:
            from distributed import Client

            client = Client(plan.dask_address, set_as_default=False)
            return client, lambda name: client.submit(execute_step, plan, name, credentials, None,
                                                      pure=False, key=f"step-{plan.pipeline_run_id}-{name}")
        if self._executor is not None:
            executor = self._executor
            return None, lambda name: executor.submit(execute_step, plan, name, credentials, None)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, plan.max_parallel),
                                                     thread_name_prefix="steprun-step")
        return pool, lambda name: pool.submit(execute_step, plan, name, credentials, self.cancel)

    def _drive(self) -> tuple[str, str]:
        plan = self.plan
        finished = {s.name for s in plan.steps if s.reused}
        canceled: list[str] = []  # steps canceled on their own (StepRun.cancel())
        pending = [s.name for s in plan.steps if not s.reused]
        failed: dict[str, str] = {}
        skipped: set[str] = set()
        running: dict[str, Any] = {}
        own, submit = self._executor_and_submit()
        limit = len(plan.steps) if plan.dask_address else max(1, plan.max_parallel)
        try:
            while pending or running:
                if self.lost.is_set():  # the steps stop (cancel is set); wait for them a little
                    concurrent.futures.wait(list(running.values()), timeout=_LOST_GRACE)
                    return layout.FAILED, SERVER_GONE_ERROR
                if self.cancel.is_set():
                    self._cancel_pending(pending)
                    pending = []
                for name in list(pending):
                    deps = plan.step(name).depends_on
                    broken = sorted(deps & (set(failed) | skipped))
                    if broken:
                        self._mark(name, layout.CANCELED, f"upstream step {broken[0]!r} did not finish")
                        skipped.add(name)
                        pending.remove(name)
                    elif deps <= finished and len(running) < limit:
                        running[name] = submit(name)
                        pending.remove(name)
                ended = False
                for name, future in list(running.items()):
                    if not future.done():
                        continue
                    del running[name]
                    ended = True
                    try:
                        result = future.result()
                    except BaseException as exc:  # the task itself broke (a lost Dask worker...)
                        result = {"status": layout.FAILED,
                                  "error": redact(f"{type(exc).__name__}: {exc}")[:500]}
                        self._mark(name, layout.FAILED, result["error"], only_if_open=True)
                    if result["status"] == layout.FINISHED:
                        finished.add(name)
                    elif result["status"] == layout.CANCELED:
                        skipped.add(name)
                        canceled.append(name)
                    else:
                        failed[name] = result["error"]
                    self._release_inputs(name, set(pending) | set(running))
                if not ended:  # a step that ended may have made others ready: start them now
                    time.sleep(LOOP)
        finally:
            if own is not None:
                with contextlib.suppress(Exception):
                    if hasattr(own, "gather"):
                        own.close()
                    else:  # a runner that lost its server does not wait for threads stuck on it
                        own.shutdown(wait=not self.lost.is_set(), cancel_futures=True)
        if self.cancel.is_set():
            return layout.CANCELED, CANCELED_ERROR
        if failed:
            name, reason = next(iter(failed.items()))
            return layout.FAILED, f"step {name!r} failed: {reason}"[:1000]
        if canceled:  # its results, and those of the steps after it, are missing: not Finished
            return layout.CANCELED, f"step {canceled[0]!r} was canceled"[:1000]
        return layout.FINISHED, ""

    def _sweep_step_users(self) -> None:
        """On the embedded server: delete the step users a killed runner left (see step_access)."""
        if not (self.plan.embedded and self.plan.local_artifacts and self.credentials.username):
            return
        try:
            gone = sweep_step_users(self.rest, Path(self.plan.local_artifacts).parent)
        except Exception as exc:  # housekeeping: never in the way of the pipeline
            print(f"warning: step users of ended runs not swept: {redact(str(exc))[:300]}",
                  file=sys.stderr, flush=True)
            return
        if gone:
            print(f"deleted {len(gone)} step user(s) left by runners that are gone: {', '.join(gone)}",
                  flush=True)

    def _release_inputs(self, name: str, open_steps: set[str]) -> None:
        """Free the local outputs of producers of ``name`` that no open step reads any more."""
        for producer in self.plan.step(name).depends_on:
            readers = {s.name for s in self.plan.steps if producer in s.depends_on}
            if not readers & open_steps:
                workarea.release_outputs(Path(self.plan.work_dir), producer)

    def _mark(self, name: str, status: str, error: str, only_if_open: bool = False) -> None:
        run_id = self.plan.step(name).run_id
        if only_if_open and layout.is_terminal(self.rest.get_run(run_id).azureml_status()):
            return
        self.rest.set_tags(run_id, {layout.TAG_ERROR: error, layout.TAG_NOT_STARTED: "false"})
        self.rest.update_run(run_id, layout.MLFLOW_STATUS[status], now_ms())

    def _cancel_pending(self, pending: list[str]) -> None:
        for name in pending:
            self._mark(name, layout.CANCELED, CANCELED_ERROR)

    def _end_leftovers(self, status: str, error: str) -> None:
        """After a runner error: close every step that is not final yet."""
        for step in self.plan.steps:
            if not step.reused:
                with contextlib.suppress(Exception):
                    self._mark(step.name, status, error, only_if_open=True)

    def _heartbeat(self) -> None:
        """Keep the pipeline's heartbeat fresh, watch for a cancel request and for a lost server."""
        last_beat = 0.0
        last_contact = time.monotonic()
        while not self._stop.wait(CANCEL_POLL):
            try:
                if time.monotonic() - last_beat >= layout.HEARTBEAT_INTERVAL:
                    self._quick.set_tag(self.plan.pipeline_run_id, layout.TAG_HEARTBEAT,
                                        layout.heartbeat_value())
                    last_beat = time.monotonic()
                tags = self._quick.get_run(self.plan.pipeline_run_id).tags
                last_contact = time.monotonic()
                if tags.get(layout.TAG_CANCEL_REQUESTED) == "true":
                    self.cancel.set()
            except ServiceError as exc:
                if exc.status_code is None and time.monotonic() - last_contact >= self._lost_after:
                    print(f"runner: cannot reach the tracking server for {self._lost_after:g} s "
                          f"({redact(str(exc))[:300]}): stopping the steps", file=sys.stderr, flush=True)
                    self.lost.set()
                    self.cancel.set()
                    return
            except Exception:  # noqa: BLE001 - anything else: try again next round
                pass

    def _give_up(self, folder: Path, lock: Any) -> str:
        """The server is gone: stop what the steps left running, record them and the pipeline Failed
        if the server answers within ``_LAST_WORDS`` seconds (it may be coming back), and end."""
        self._stop.set()
        for child in processes.tree(os.getpid())[1:]:  # step processes a blocked thread did not stop
            processes.stop_tree(child.pid, grace=5.0, group=False)
        open_runs = [s.run_id for s in self.plan.steps if not s.reused] + [self.plan.pipeline_run_id]
        deadline = time.monotonic() + _LAST_WORDS
        while open_runs and time.monotonic() < deadline:
            try:
                for run_id in list(open_runs):
                    if not layout.is_terminal(self._quick.get_run(run_id).azureml_status()):
                        self._quick.set_tags(run_id, {layout.TAG_ERROR: SERVER_GONE_ERROR})
                        self._quick.update_run(run_id, layout.MLFLOW_STATUS[layout.FAILED], now_ms())
                    open_runs.remove(run_id)
            except Exception:  # noqa: BLE001 - still gone: try again until the deadline
                time.sleep(1.0)
        if open_runs:
            print(f"runner: the tracking server did not come back within {_LAST_WORDS:g} s: "
                  f"{len(open_runs)} run(s) could not be marked Failed (they will show NotResponding)",
                  file=sys.stderr, flush=True)
        if lock is not None:
            lock.release()
        return layout.FAILED


def main(argv: list[str] | None = None) -> int:
    """Entry point of the detached runner process."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m steprun_widgets.local.runner PLAN.json", file=sys.stderr)
        return 2
    credentials = RunnerCredentials.pop_environment()  # the steps' environment must not gain them
    plan = PipelinePlan.load(Path(args[0]))
    driver = PipelineDriver(plan, credentials=credentials)
    status = driver.run()
    print(f"pipeline {plan.pipeline_run_id}: {status}", flush=True)
    if driver.lost.is_set():  # threads may still be blocked on the lost server: do not wait for them
        print(f"pipeline {plan.pipeline_run_id}: {SERVER_GONE_ERROR}; the runner exits", flush=True)
        sys.stderr.flush()
        os._exit(1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
