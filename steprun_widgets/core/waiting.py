"""``wait_for_completion``: poll a run, print status changes and only the new log lines."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from steprun_widgets.core import layout
from steprun_widgets.core.logs import LogReader
from steprun_widgets.errors import ActivityFailedException, ArtifactStoreError, ServiceError

if TYPE_CHECKING:
    from steprun_widgets.core.rest import RunRecord
    from steprun_widgets.core.runs import PipelineRun, StepRun, _Run

POLL_SECONDS = 1.0
#: While the server cannot be reached, it is asked again this often (seconds).
RECONNECT_MAX_SECONDS = 5.0
#: The logs streamed while waiting, and where their lines go. Runs of other tools stream every
#: log they keep under ``logs/`` except these.
STREAMED_LOGS = ("stdout", "stderr")
UNSTREAMED_LOGS = ("job",)
STDERR_TAIL_BYTES = 4096
STDERR_TAIL_LINES = 20


class _Printer:
    """Prints complete lines per (run, log), prefixed with the step name when several steps run."""

    def __init__(self, prefix_steps: bool, out: TextIO, err: TextIO) -> None:
        self.prefix_steps = prefix_steps
        self.out, self.err = out, err
        self._partial: dict[tuple[str, str], str] = {}

    def write(self, step_name: str, run_id: str, log: str, text: str, final: bool = False) -> None:
        key = (run_id, log)
        text = self._partial.pop(key, "") + text
        lines = text.split("\n")
        rest = lines.pop()
        if final and rest:
            lines.append(rest)
        elif rest:
            self._partial[key] = rest
        stream = self.err if log == "stderr" else self.out
        prefix = f"[{step_name}] " if self.prefix_steps else ""
        for line in lines:
            stream.write(f"{prefix}{line}\n")
        if lines:
            stream.flush()

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


class _Watch:
    """The readers and last-seen status of one step run being waited for."""

    def __init__(self, step: StepRun) -> None:
        self.step = step
        self.status: str | None = None
        self.readers: dict[str, LogReader] = {}
        self.done = False
        #: The artifact store problem already told about (said once, not every second).
        self.store_error: str = ""

    def readers_for(self) -> dict[str, LogReader]:
        """The readers of the logs to stream; logs that appeared since last time get one too."""
        paths = self.step.log_paths(refresh=True)  # free once the names are final
        mine = layout.is_step_run(self.step._record().tags)
        for name in paths:
            wanted = name in STREAMED_LOGS if mine else name not in UNSTREAMED_LOGS
            if wanted and name not in self.readers:
                self.readers[name] = self.step.log_reader(name)
        return self.readers


def wait_for_runs(owner: _Run, steps: list[StepRun] | None, show_output: bool,
                  timeout_seconds: float, raise_on_error: bool, out: TextIO | None = None,
                  poll_seconds: float = POLL_SECONDS) -> str:
    """Wait for ``owner`` (a StepRun, or a PipelineRun when ``steps`` is None) to end."""
    out = out or sys.stdout
    printer = _Printer(prefix_steps=steps is None, out=out, err=sys.stderr if out is sys.stdout else out)
    kind = "PipelineRunId" if steps is None else "StepRunId"
    started = time.monotonic()
    deadline = started + min(float(timeout_seconds), 1e9)
    watches: dict[str, _Watch] = {}
    status = None
    if show_output:
        printer.say(f"{kind}: {owner.id}")
    lost: ServiceError | None = None
    # While the server was unreachable the runner could not send heartbeats either: right after a
    # reconnect a stale heartbeat says nothing, so NotResponding ends the wait only once the runner
    # had a whole staleness period to beat again.
    beats_count_from = float("-inf")
    try:
        while True:
            try:
                status = owner.get_status()
                current = steps if steps is not None else _pipeline_steps(owner)  # type: ignore[arg-type]
                for step in current:
                    watch = watches.setdefault(step.id, _Watch(step))
                    if step is not watch.step and step._cached is not None:
                        watch.step._set_record(step._cached)  # the search of this tick is fresher
                    _follow(watch, printer, show_output)
            except ServiceError as exc:
                # The server restarts, a proxy answers 502...: the run goes on, so keep waiting.
                # A server never reached in this wait is a wrong URL or a dead server: say so.
                if not exc.transient or status is None:
                    raise
                if lost is None:
                    printer.say(f"Lost the connection to the tracking server ({exc}); still waiting: "
                                f"run {owner.id} goes on on the server.")
                lost = exc
                if time.monotonic() >= deadline:
                    printer.say(f"Timed out after {timeout_seconds:g} s waiting for run {owner.id}; "
                                f"it was last {status}.")
                    return status
                time.sleep(min(RECONNECT_MAX_SECONDS, max(poll_seconds, 0.1) * 2))
                continue
            if lost is not None:
                printer.say("Reconnected to the tracking server.")
                lost = None
                beats_count_from = time.monotonic()
            if layout.is_terminal(status) or (
                    status == layout.NOT_RESPONDING
                    and time.monotonic() - beats_count_from >= layout.HEARTBEAT_STALE_AFTER):
                break
            if time.monotonic() >= deadline:
                printer.say(f"Timed out after {timeout_seconds:g} s waiting for run {owner.id}; it is "
                            f"still {status} and goes on on the server.")
                return status
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        printer.say(f"\nStopped waiting (Ctrl-C): run {owner.id} goes on on the server "
                    f"(last status {status}); call wait_for_completion() again to watch it.")
        raise
    if show_output:
        _summary(owner, watches, status, printer, time.monotonic() - started)
    if status == layout.NOT_RESPONDING:
        printer.say(f"Run {owner.id} is NotResponding: its runner stopped sending heartbeats, so it "
                    "may never finish. Cancel it and submit again.")
    if status == layout.FAILED and raise_on_error:
        raise _failure(owner, [w.step for w in watches.values()])
    return status


def _pipeline_steps(pipeline: PipelineRun) -> list[StepRun]:
    return pipeline.steps_in_graph_order()  # the log reads in the order the steps run


def _follow(watch: _Watch, printer: _Printer, show_output: bool) -> None:
    """Refresh one step: announce a status change, print its new log text."""
    step = watch.step
    if watch.done:
        return
    # Fresh already: the owner's get_status() or the pipeline's step search fetched it this tick.
    record: RunRecord = step._record()
    status = record.azureml_status()
    terminal = layout.is_terminal(status)
    changed = show_output and status != watch.status
    announce = f"StepRun({step.name}) Status: {status}" + (" (reused)" if step.is_reused else "")
    if changed and not terminal:
        printer.say(announce)
    watch.status = status
    if show_output and (status not in (layout.QUEUED, layout.NOT_STARTED) or terminal):
        try:
            _print_logs(watch, printer, terminal)
        except ArtifactStoreError as exc:
            # The run's status is known; only its logs cannot be read: say so once, go on.
            if str(exc) != watch.store_error:
                printer.say(f"[logs of {step.name} cannot be read: {exc}]")
            watch.store_error = str(exc)
    if changed and terminal:  # after the step's last lines, not before them
        printer.say(announce)
    watch.done = terminal


def _print_logs(watch: _Watch, printer: _Printer, terminal: bool) -> None:
    step = watch.step
    for name, reader in watch.readers_for().items():
        chunk = reader.read_new(final=terminal)
        if chunk.reset:
            printer.say(f"[log {name} of {step.name} was replaced on the server; reading it "
                        "again from the start]")
        if chunk.text or terminal:
            printer.write(step.name, step.id, name, chunk.text, final=terminal)


def _summary(owner: _Run, watches: dict[str, _Watch], status: str, printer: _Printer,
             waited: float) -> None:
    printer.say("")
    printer.say(f"{type(owner).__name__} {owner.id}: {status} (watched {waited:.1f} s)")
    for watch in watches.values():
        record = watch.step._record()
        took = ""
        if record.started_ms and record.end_time:
            took = f" in {(record.end_time - record.started_ms) / 1000:.1f} s"
        reused = f", reused from {watch.step.id}" if watch.step.is_reused else ""
        printer.say(f"  {watch.step.name}: {watch.status}{took}{reused}")


def stderr_tail(step: StepRun) -> str:
    """The last lines of a step's stderr (a suffix Range request, not the whole log)."""
    try:
        path = step.log_paths().get("stderr")
        if not path:
            return ""
        data = step._rest.read_tail(step._record(), path, STDERR_TAIL_BYTES)
    except ArtifactStoreError:
        return ""  # the failure is still reported; only its stderr cannot be shown
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if len(data) >= STDERR_TAIL_BYTES and lines:
        lines = lines[1:]  # the first line is probably cut
    return "\n".join(lines[-STDERR_TAIL_LINES:])


def _failure(owner: _Run, steps: list[StepRun]) -> ActivityFailedException:
    failed = [s for s in steps if s._record().azureml_status() == layout.FAILED]
    target = failed[0] if failed else None
    error = owner._record().tags.get(layout.TAG_ERROR, "")
    tail = ""
    if target is not None:
        error = target._record().tags.get(layout.TAG_ERROR, "") or error
        tail = stderr_tail(target)
    what = f"step {target.name!r} (run {target.id})" if target is not None else f"run {owner.id}"
    message = f"{type(owner).__name__} {owner.id} failed: {what}: {error or 'no error recorded'}"
    if tail:
        message += "\nLast lines of stderr:\n" + tail
    return ActivityFailedException(message, run_id=target.id if target else owner.id, error=error,
                                   stderr_tail=tail)
