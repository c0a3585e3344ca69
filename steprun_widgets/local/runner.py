"""The pipeline runner: drives one submitted pipeline to its end.

Started detached by ``Experiment.submit`` (``python -m steprun_widgets.local.runner PLAN``) so the
run goes on when the notebook kernel restarts; it runs steps in dependency order, independent
ones in parallel, on local processes or on a Dask cluster, and keeps the pipeline's heartbeat.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from steprun_widgets.core import layout
from steprun_widgets.core.cancel import CANCELED_ERROR
from steprun_widgets.errors import redact
from steprun_widgets.local import workarea
from steprun_widgets.local.execute import execute_step, now_ms, runner_workspace
from steprun_widgets.local.plan import PipelinePlan, RunnerCredentials

LOOP = 0.1
CANCEL_POLL = 0.5


class PipelineDriver:
    """Schedules the steps of one plan on an executor and records the pipeline's status."""

    def __init__(self, plan: PipelinePlan, credentials: RunnerCredentials | None = None,
                 executor: Any = None) -> None:
        self.plan = plan
        self.credentials = credentials or RunnerCredentials()
        self.rest = runner_workspace(plan, self.credentials).rest
        self._executor = executor
        self.cancel = threading.Event()
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
        try:
            status, error = self._drive()
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
                    own.close() if hasattr(own, "gather") else own.shutdown(wait=True)
        if self.cancel.is_set():
            return layout.CANCELED, CANCELED_ERROR
        if failed:
            name, reason = next(iter(failed.items()))
            return layout.FAILED, f"step {name!r} failed: {reason}"[:1000]
        if canceled:  # its results, and those of the steps after it, are missing: not Finished
            return layout.CANCELED, f"step {canceled[0]!r} was canceled"[:1000]
        return layout.FINISHED, ""

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
        """Keep the pipeline's heartbeat fresh and watch for a cancel request."""
        last_beat = 0.0
        while not self._stop.wait(CANCEL_POLL):
            with contextlib.suppress(Exception):
                if time.monotonic() - last_beat >= layout.HEARTBEAT_INTERVAL:
                    self.rest.set_tag(self.plan.pipeline_run_id, layout.TAG_HEARTBEAT,
                                      layout.heartbeat_value())
                    last_beat = time.monotonic()
                tags = self.rest.get_run(self.plan.pipeline_run_id).tags
                if tags.get(layout.TAG_CANCEL_REQUESTED) == "true":
                    self.cancel.set()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the detached runner process."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m steprun_widgets.local.runner PLAN.json", file=sys.stderr)
        return 2
    credentials = RunnerCredentials.pop_environment()  # the steps' environment must not gain them
    plan = PipelinePlan.load(Path(args[0]))
    status = PipelineDriver(plan, credentials=credentials).run()
    print(f"pipeline {plan.pipeline_run_id}: {status}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
