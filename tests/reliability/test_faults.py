"""Faults: the tracking server killed mid-pipeline, the runner killed, steps that kill themselves or
remove their output, and three pipelines at once under ten widgets.

Every wait has a deadline; the only processes signalled are the ones this test process started
(its own MlflowServer, the runners it spawned, their step processes), by pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from steprun_widgets import Experiment, PipelineRun, PipelineRunWidget, Workspace
from steprun_widgets.core import layout
from steprun_widgets.errors import ActivityFailedException
from steprun_widgets.local import PipelineData
from steprun_widgets.widgets.poller import get_poller
from tests.mlflow_server import MlflowServer
from tests.reliability.helpers import (
    kill_server,
    runner_processes,
    script_step,
    seen_text,
    stop_leftovers,
    submit,
    wait_terminal,
    wait_until,
    watch_widget,
)
from tests.runlayout import RunLayout

# A step that tees every byte it prints to a reference file, prints until the test opens its gate
# (or a deadline passes), then finishes: the end of the step can be placed inside a server outage.
GATED = """
import sys, time
from pathlib import Path
ref = open({ref!r}, "ab")
def say(text, stream=sys.stdout):
    data = text.encode()
    stream.buffer.write(data); stream.flush()
    if stream is sys.stdout:
        ref.write(data); ref.flush()
for i in range(40):
    say(f"{name} line {{i:03d}} ✓ ünï €\\n")
    if i % 10 == 0:
        say(f"{name} note {{i}}\\n", sys.stderr)
    time.sleep(0.05)
deadline = time.monotonic() + 90
i = 0
while not Path({gate!r}).exists() and time.monotonic() < deadline:
    say(f"{name} waiting {{i:04d}}\\n")
    i += 1
    time.sleep(0.2)
for i in range(30):
    say(f"{name} after gate {{i:03d}} ß\\n")
out = Path(sys.argv[-1])
(out / "data.txt").write_text("payload from {name}\\n" * 1000)
say(f"{name} done\\n")
"""

CONSUMER = """
import sys
from pathlib import Path
inp, out = Path(sys.argv[1]), Path(sys.argv[2])
text = (inp / "data.txt").read_text()
print("consumer read", len(text), "chars", flush=True)
(out / "upper.txt").write_text(text.upper())
"""


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """A tracking server of this module's own, to kill and restart (the session's one stays up)."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-killed"))
    server.start()
    yield server
    if server.proc is not None:
        server.stop()


def test_server_killed_and_restarted_mid_pipeline(own_server, tmp_path, experiment_name, monkeypatch,
                                                  capsys):
    for name in ("MLFLOW_TRACKING_TOKEN", "STEPRUN_RUNNER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    ws = Workspace(own_server.url)  # no local_root: the runner uploads its logs over REST
    experiment = Experiment(ws, experiment_name)
    ref, gate = tmp_path / "stdout.ref", tmp_path / "gate"
    data, upper = PipelineData("data"), PipelineData("upper")
    first = script_step(tmp_path, "first", GATED.format(ref=str(ref), gate=str(gate), name="first"),
                        outputs=(data,))
    second = script_step(tmp_path, "second", CONSUMER, inputs=(data,), outputs=(upper,))
    outcome: dict = {}
    try:
        run = submit(experiment, [first, second])

        def wait() -> None:
            try:
                outcome["status"] = run.wait_for_completion(show_output=True, timeout_seconds=240)
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                outcome["error"] = exc

        waiter = threading.Thread(target=wait, name="wait_for_completion", daemon=True)
        waiter.start()
        step = run.find_step_run("first")[0]
        widget, browser = watch_widget(step, register=True)
        pipeline_widget = PipelineRunWidget(run)  # registered with the same kernel-wide poller
        first_logs = dict(widget.logs)
        connection, pipeline_connection = [widget.connection], [pipeline_widget.connection]
        widget.observe(lambda c: connection.append(c["new"]), names="connection")
        pipeline_widget.observe(lambda c: pipeline_connection.append(c["new"]), names="connection")
        wait_until(lambda: widget.status == layout.RUNNING and "waiting" in widget.logs["stdout"]["tail"]
                   or "waiting" in browser.log_text("stdout", first_logs.get("stdout", {}).get("seq", 0)),
                   60, "the first step to run and print")

        kill_server(own_server)  # SIGKILL: no goodbye to any client
        gate.touch()  # the step ends while the server is down: its last uploads must be retried
        wait_until(lambda: widget.connection == "reconnecting", 30, 'the widget to say "reconnecting"')
        time.sleep(3)
        own_server.start()

        waiter.join(240)
        assert not waiter.is_alive(), "wait_for_completion never returned"
        wait_until(lambda: widget.watch.final, 60, "the widget to see the end")
        wait_until(lambda: widget.connection == "ok", 30, "the widget to reconnect by itself")
        wait_until(lambda: pipeline_widget.watch.final and pipeline_widget.connection == "ok", 60,
                   "the pipeline widget to reconnect and see the end")
    finally:
        stop_leftovers(experiment)

    assert "error" not in outcome, f"wait_for_completion raised {outcome.get('error')!r}"
    assert outcome["status"] == layout.FINISHED
    assert run.get_status() == layout.FINISHED
    assert {s.name: s.get_status() for s in run.get_steps()} == {"first": layout.FINISHED,
                                                               "second": layout.FINISHED}
    expected = ref.read_bytes().decode()
    assert step.get_stdout_log() == expected, "the server's log is byte-exact"
    assert widget.status == layout.FINISHED and "reconnecting" in connection
    assert pipeline_widget.status == layout.FINISHED and "reconnecting" in pipeline_connection
    assert [s["status"] for s in pipeline_widget.steps] == [layout.FINISHED, layout.FINISHED]
    assert pipeline_widget.error == "" and pipeline_widget.connection_detail == ""
    for stream in ("stdout", "stderr"):
        final = step.get_stdout_log() if stream == "stdout" else step.get_stderr_log()
        assert seen_text(widget, browser, first_logs, stream) == final, stream
    assert step.get_stderr_log() == "".join(f"first note {i}\n" for i in (0, 10, 20, 30))

    printed = capsys.readouterr()
    streamed = [line.removeprefix("[first] ") for line in (printed.out + printed.err).splitlines()
                if line.startswith("[first] ")]
    assert "\n".join(line for line in streamed if "note" not in line) + "\n" == expected, \
        "wait_for_completion printed every line once"
    folder = run.find_step_run("second")[0].get_output_data("upper").download(tmp_path / "dl",
                                                                              show_progress=False)
    assert (Path(folder) / "upper.txt").read_text() == "PAYLOAD FROM FIRST\n" * 1000
    ws.transport.close()


SLEEPER = """
import sys, time
from pathlib import Path
fast = Path({fast!r}).exists()
print("sleeper starts", "fast" if fast else "slow", flush=True)
deadline = time.monotonic() + (0.2 if fast else 120)
while time.monotonic() < deadline:
    time.sleep(0.1)
print("sleeper ends", flush=True)
"""


def test_a_heartbeat_stale_from_an_outage_does_not_end_the_wait(own_server, experiment_name):
    """The runner cannot beat while the server is down: after a reconnect, a stale heartbeat is not
    yet NotResponding; the run's real end is waited for (and a real NotResponding still ends it)."""
    ws = Workspace(own_server.url)
    runs = RunLayout(ws, experiment_name)
    pipe = runs.pipeline(steps=["long"])
    record = runs.step(pipe, "long")
    runs.heartbeat(record)
    step = PipelineRun(Experiment(ws, experiment_name), pipe.run_id).find_step_run("long")[0]
    outcome: dict = {}
    waiter = threading.Thread(target=lambda: outcome.update(
        status=step.wait_for_completion(show_output=False, timeout_seconds=120)), daemon=True)
    waiter.start()
    time.sleep(1.5)  # the wait has read the run once: Running, heartbeat fresh
    runs.heartbeat(record, age_seconds=layout.HEARTBEAT_STALE_AFTER + 30)  # as after a long outage
    kill_server(own_server)
    time.sleep(3)
    own_server.start()
    reconnected = time.monotonic()
    time.sleep(3)  # the wait reads NotResponding now, right after its reconnect
    assert waiter.is_alive(), f"the wait ended on a heartbeat stale from the outage: {outcome}"
    runs.heartbeat(record)  # the runner beats again, then the step ends
    runs.set_status(record, layout.FINISHED)
    waiter.join(60)
    assert outcome.get("status") == layout.FINISHED
    assert time.monotonic() - reconnected < layout.HEARTBEAT_STALE_AFTER + 30


def test_runner_killed_reports_not_responding_then_resubmit_works(experiment, tmp_path):
    fast = tmp_path / "fast"
    sleeper = script_step(tmp_path, "sleeper", SLEEPER.format(fast=str(fast)), allow_reuse=True)
    run = submit(experiment, [sleeper])
    step = run.find_step_run("sleeper")[0]
    wait_until(lambda: step.get_status() == layout.RUNNING and "starts" in step.get_stdout_log(), 60,
               "the step to run")
    widget, _ = watch_widget(step)
    runners = runner_processes(run.id)
    assert len(runners) == 1
    step_procs = [p for p in runners[0].children(recursive=True)]
    assert step_procs, "the runner has the step's process as a child"

    os.kill(runners[0].pid, signal.SIGKILL)
    killed = time.monotonic()
    try:
        runners[0].wait(10)
        wait_until(lambda: run.get_status() == layout.NOT_RESPONDING == step.get_status(), 30,
                   "NotResponding within 30 s of the kill", interval=0.5)
        assert time.monotonic() - killed <= 30 + 1
        for proc in step_procs:  # the step's process died with its runner
            wait_until(lambda p=proc: not p.is_running() or p.status() == psutil.STATUS_ZOMBIE, 10,
                       f"step process {proc.pid} to end")
        widget.refresh()
        assert widget.status == layout.NOT_RESPONDING
        assert run.wait_for_completion(show_output=False, timeout_seconds=10) == layout.NOT_RESPONDING
    finally:
        for proc in step_procs:  # started by us through the runner: never left behind
            with contextlib.suppress(psutil.Error):
                proc.kill()

    run.cancel()  # the runner is gone: the client closes what was left itself
    assert wait_terminal(run, 30) == layout.CANCELED

    fast.touch()
    again = submit(experiment, [sleeper])
    assert again.wait_for_completion(show_output=False, timeout_seconds=90) == layout.FINISHED
    redone = again.find_step_run("sleeper")[0]
    assert not redone.is_reused and redone.id != step.id, "a step that never finished is not reused"
    assert redone.get_stdout_log() == "sleeper starts fast\nsleeper ends\n"


def test_step_that_sigkills_itself_and_step_that_removes_its_output(experiment, tmp_path):
    kept, removed, replaced = PipelineData("kept"), PipelineData("removed"), PipelineData("replaced")
    steps = [
        script_step(tmp_path, "oom", """
            import os, signal, sys
            print("allocating a lot...", flush=True)
            print("MemoryError is near", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """, outputs=(kept,)),
        script_step(tmp_path, "remover", """
            import shutil, sys
            from pathlib import Path
            (Path(sys.argv[1]) / "x.txt").write_text("soon gone")
            shutil.rmtree(sys.argv[1])
            print("removed my own output", flush=True)
        """, outputs=(removed,)),
        script_step(tmp_path, "replacer", """
            import shutil, sys
            from pathlib import Path
            shutil.rmtree(sys.argv[1])
            Path(sys.argv[1]).write_text("a file where the folder was")
        """, outputs=(replaced,)),
    ]
    run = submit(experiment, steps)
    widgets = {s.name: watch_widget(s) for s in run.get_steps()}
    with pytest.raises(ActivityFailedException) as failure:
        run.wait_for_completion(show_output=False, timeout_seconds=90)
    assert "SIGKILL" in str(failure.value) or "removed" in str(failure.value)

    oom = run.find_step_run("oom")[0]
    error = oom.get_tags()[layout.TAG_ERROR]
    assert oom.get_status() == layout.FAILED and "SIGKILL" in error and "MemoryError is near" in error
    assert oom.get_stdout_log() == "allocating a lot...\n"
    for name in ("remover", "replacer"):
        step = run.find_step_run(name)[0]
        error = step.get_tags()[layout.TAG_ERROR]
        assert step.get_status() == layout.FAILED, name
        output = "removed" if name == "remover" else "replaced"
        assert f"Output {output!r}" in error and "missing" in error, error
        assert f"Output {output!r}" in step.get_job_log()
        assert step.get_outputs() == {}
    for name, (widget, _) in widgets.items():
        widget.refresh()
        assert widget.status == layout.FAILED and widget.error, name
    assert "SIGKILL" in widgets["oom"][0].error


MARKED = """
import sys, time
for i in range({lines}):
    print("{mark}", i, flush=True)
    if i % 7 == 0:
        print("{mark}-err", i, file=sys.stderr, flush=True)
    time.sleep(0.02)
{tail}
"""


def test_three_pipelines_at_once_with_ten_widgets_no_cross_talk(experiment, tmp_path):
    """Three pipelines submitted at the same moment to one server, ten widgets on their steps."""
    plans = {"p1": ["a", "b", "c", "d"], "p2": ["a", "b", "c"], "p3": ["a", "b", "c"]}
    failing = ("p3", "b")  # fails: p3's c (downstream) is Canceled, p3 Failed
    expected: dict[tuple[str, str], str] = {}
    pipelines_steps = {}
    for pipe, names in plans.items():
        steps, previous = [], None
        for k, name in enumerate(names):
            data = PipelineData(f"{pipe}_{name}")
            mark = f"MARK-{pipe}-{name}"
            tail = "sys.exit(5)" if (pipe, name) == failing else "open(sys.argv[-1] + '/m', 'w').write('x')"
            code = MARKED.format(lines=15 + 5 * k, mark=mark, tail=tail)
            inputs = (previous,) if previous is not None and name != "b" else ()
            steps.append(script_step(tmp_path / pipe, name, code, inputs=inputs, outputs=(data,)))
            previous = data
            expected[(pipe, name)] = layout.FINISHED
        pipelines_steps[pipe] = steps
    expected[failing] = layout.FAILED
    expected[("p3", "c")] = layout.CANCELED

    runs: dict = {}
    barrier = threading.Barrier(len(plans))
    errors = []

    def go(pipe: str) -> None:
        try:
            barrier.wait(30)
            runs[pipe] = submit(experiment, pipelines_steps[pipe])
        except BaseException as exc:  # noqa: BLE001 - checked below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len({r.id for r in runs.values()}) == 3

    watched = {}
    for pipe, run in runs.items():
        for step in run.get_steps():
            watched[(pipe, step.name)] = (step, *watch_widget(step, register=True))
    assert len(watched) == 10
    firsts = {key: dict(w.logs) for key, (_, w, _) in watched.items()}
    wait_until(lambda: all(w.watch.final for _, w, _ in watched.values()), 150,
               "all ten widgets to reach a final status", interval=0.5)
    assert get_poller().watched() == [] or all(w.watch.final for w in get_poller().watched())

    for pipe, run in runs.items():
        want = layout.FAILED if pipe == "p3" else layout.FINISHED
        assert run.get_status() == want, pipe
    for key, (step, widget, browser) in watched.items():
        pipe, name = key
        assert widget.status == expected[key] == step.get_status(), (key, widget.status, widget.error)
        mark = f"MARK-{pipe}-{name}"
        for stream in ("stdout", "stderr"):
            final = step.get_stdout_log() if stream == "stdout" else step.get_stderr_log()
            assert seen_text(widget, browser, firsts[key], stream) == final, (key, stream)
            for line in final.splitlines():
                assert line.startswith(f"{mark} ") or line.startswith(f"{mark}-err "), (key, line)
        if expected[key] == layout.CANCELED:
            assert step.get_stdout_log() == ""
        else:
            lines = 15 + 5 * plans[pipe].index(name)
            assert step.get_stdout_log() == "".join(f"{mark} {i}\n" for i in range(lines)), key
