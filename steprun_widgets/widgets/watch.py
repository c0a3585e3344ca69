"""What a widget watches of one step run, and how a fresh server record changes it.

Kept apart from the widget so the poller can refresh many runs with batched requests and so the
logic can be tested without a browser.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from steprun_widgets.core import layout
from steprun_widgets.core.rest import RunRecord
from steprun_widgets.core.runs import StepRun
from steprun_widgets.errors import ArtifactStoreError, redact
from steprun_widgets.widgets.logtail import LogTail
from steprun_widgets.widgets.metrics_watch import MetricsWatch


class StepWatch:
    """Follows one StepRun: status, times, error, reuse, outputs, one LogTail per log, and its
    metrics, parameters and images (a MetricsWatch)."""

    def __init__(self, step_run: StepRun, tail_lines: int = 2000) -> None:
        self.step_run = step_run
        self.tail_lines = tail_lines
        self.lock = threading.RLock()
        self.record: RunRecord | None = None
        self.logs: dict[str, LogTail] = {}
        self.outputs: list[dict] = []
        self.outputs_final = False
        #: True once the view asked for the outputs of a run of another tool (``list_outputs``).
        self.outputs_asked = False
        self.metrics = MetricsWatch(step_run._rest, step_run.id)
        self.final = False
        #: Messages of a refresh that broke off half-way, sent with the next one.
        self._unsent: list[dict] = []
        #: Why the logs and outputs cannot be read (the server's artifact store), "" when they can.
        self.artifacts_error = ""

    @property
    def run_id(self) -> str:
        return self.step_run.id

    @property
    def experiment_id(self) -> str | None:
        return self.record.experiment_id if self.record else None

    @property
    def rest(self):
        return self.step_run._rest

    def start(self) -> tuple[dict, list[dict]]:
        """First look: fetch the run and read its logs so far. Returns (traits, messages).

        A run already known to have ended (from the pipeline's step search) is not fetched again:
        an ended run never changes.
        """
        cached = self.step_run._cached
        fresh = cached is not None and layout.is_terminal(cached.azureml_status())
        return self.apply(cached if fresh else self.step_run._record(refresh=True), initial=True)

    def apply(self, record: RunRecord, initial: bool = False) -> tuple[dict, list[dict]]:
        """Take a fresh record; read the logs that grew. Returns changed traits and messages."""
        with self.lock:
            self.record = record
            self.step_run._set_record(record)
            status = record.azureml_status()
            terminal = layout.is_terminal(status)
            messages, self._unsent = self._unsent, []
            try:
                try:
                    self._read_artifacts(record, status, initial, messages)
                    self.artifacts_error = ""
                except ArtifactStoreError as exc:
                    # Status, times and errors come from the tracking store and still work: the
                    # widget shows them, and why its logs and outputs cannot be read.
                    self.artifacts_error = redact(str(exc))
                # Histories are read only for metrics whose latest value moved in this record.
                self.metrics.update(record, messages, final=terminal, now=time.monotonic())
            except Exception:
                # The tails already took the text read before the failure: it must still reach
                # the browser, so it goes with the next refresh.
                self._unsent = messages
                raise
            # A run with metrics still to read gets more refreshes, even once it ended.
            self.final = terminal and not self.metrics.pending
            return self.traits(), messages

    def _read_artifacts(self, record: RunRecord, status: str, initial: bool,
                        messages: list[dict]) -> None:
        """Read the logs that grew and, once the run ended, list its outputs (a run of another
        tool's only once the view asked: see ``outputs_on_request``)."""
        terminal = layout.is_terminal(status)
        # Runs of other tools may gain logs while they go on: their logs/ is listed again then.
        for name in self.step_run.log_paths(refresh=not self.final):
            if name not in self.logs:
                self.logs[name] = LogTail(self.step_run.log_reader(name), self.tail_lines)
        sizes = layout.decode_log_sizes(record.tags.get(layout.TAG_LOG_SIZES))
        # A step that has not started yet has no logs: no request for them until it runs.
        # A published size only lags behind what was read (a read takes the whole file, the
        # runner publishes about twice a second), so only a larger one means new bytes.
        # A step of the runner that publishes none yet has just started: its first sizes
        # come within a second. Runs of other tools publish none: their logs are read.
        waiting = status in (layout.QUEUED, layout.NOT_STARTED) or (
            sizes is None and layout.is_step_run(record.tags))
        for name, tail in self.logs.items():
            known = None if sizes is None else sizes.get(name)
            if terminal or initial or (known is None and not waiting) or (
                    known is not None and known > tail.total_bytes):
                messages.extend(tail.pull(final=terminal))
        if terminal and not self.outputs_final and not self.outputs_on_request:
            self.outputs = self._list_outputs()
            self.outputs_final = True
        elif not self.outputs:
            self.outputs = self._declared_outputs(record)

    @property
    def outputs_on_request(self) -> bool:
        """True while the outputs of a run of another tool wait for the view to ask for them.

        Such a run declares none, so listing them walks every folder under ``outputs/`` (one
        request each): the view offers a button instead. The runner's steps declare theirs in a
        tag and are listed once they end.
        """
        return (not self.outputs_asked and self.record is not None
                and not layout.is_step_run(self.record.tags))

    def list_outputs(self) -> dict[str, Any]:
        """List the outputs now, as the view asked (``list_outputs``); returns the traits.

        A run that still goes on is listed again when it ends, like a step of the runner.
        """
        with self.lock:
            assert self.record is not None  # the widget made its first look
            if not self.outputs_final:
                self.outputs = self._list_outputs()
                self.outputs_final = layout.is_terminal(self.record.azureml_status())
            self.outputs_asked = True
            return self.traits()

    def traits(self) -> dict[str, Any]:
        """The widget's synced state, except the logs (see ``logs_state``)."""
        record = self.record
        assert record is not None
        run = self.step_run
        reuse = {}
        if run.is_reused:
            reuse = {"run_id": run._reused_run_id or run.id, "node_id": run._reused_node_id or "",
                     "pipeline_run_id": run._reused_pipeline_run_id or ""}
        status = record.azureml_status()
        started = record.started_ms  # None for a step that never started: no elapsed time
        return {
            "run_id": run.id,
            "name": run.name,
            "status": status,
            "start_time": float(started) if started else None,
            "end_time": float(record.end_time) if record.end_time else None,
            "error": "\n".join(e for e in (record.tags.get(layout.TAG_ERROR, ""),
                                             self.artifacts_error) if e),
            "reuse": reuse,
            "outputs": list(self.outputs),
            "outputs_on_request": self.outputs_on_request,
            "params": dict(self.metrics.params),
            "images": list(self.metrics.images),
        }

    def logs_state(self) -> dict[str, dict]:
        with self.lock:
            return {name: tail.state() for name, tail in self.logs.items()}

    def metrics_state(self) -> dict[str, dict]:
        with self.lock:
            return self.metrics.state()

    def snapshots(self) -> list[dict]:
        """What answers a view's ``sync``: a snapshot of each log, then of each metric."""
        with self.lock:
            return ([tail.snapshot_message() for tail in self.logs.values()]
                    + self.metrics.snapshots())

    def _declared_outputs(self, record: RunRecord) -> list[dict]:
        names = [n for n in record.tags.get(layout.TAG_OUTPUT_NAMES, "").split(",") if n]
        return [{"name": n, "size": None, "file_count": None, "is_dir": True} for n in names]

    def _list_outputs(self) -> list[dict]:
        outputs = []
        for name, output in sorted(self.step_run.get_outputs().items()):
            files = output.files
            nested = any("/" in f.path[len(layout.output_path(name)) + 1:] for f in files)
            outputs.append({"name": name, "size": output.size, "file_count": len(files),
                            "is_dir": len(files) != 1 or nested})
        return outputs
