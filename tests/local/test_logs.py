"""Logs: readable while the step runs, byte-exact at the end (multi-byte, a 10 MB line), stderr, job.

Every test runs with both sinks: ``append`` (embedded default) and ``upload`` (a remote server).
"""

from __future__ import annotations

import time

from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PythonScriptStep
from tests.local.helpers import assert_sink, wait_terminal, wait_until, write_script

#: A step that prints a line, waits for the test to open a gate, prints more, waits, prints the end.
LIVE = """
import sys, time
from pathlib import Path

def wait_for(gate):
    deadline = time.time() + 60
    while not Path(gate).exists() and time.time() < deadline:
        time.sleep(0.02)

print("first line: héllo 中文 🚀", flush=True)
wait_for(sys.argv[1])
print("second line", flush=True)
wait_for(sys.argv[2])
print("last line", flush=True)
"""

#: Known bytes, computed the same way by the step and by the test.
PAYLOAD = '''
def stdout_payload() -> bytes:
    lines = [f"{i:05d} héllo wörld · 中文字符 · 🚀🎉 · ünïcödé\\n".encode() for i in range(3000)]
    long_line = ("é中🚀a" * 1_048_576).encode() + b"\\n"   # 10 MiB on a single line
    return b"".join(lines[:1500]) + long_line + b"".join(lines[1500:]) + "no newline at the end ✓".encode()

def stderr_payload() -> bytes:
    return "".join(f"warn {i}: ☃ ∑ 😀\\n" for i in range(5000)).encode()
'''

BYTES = PAYLOAD + """
import sys
out, err = stdout_payload(), stderr_payload()
for data, stream in ((out, sys.stdout.buffer), (err, sys.stderr.buffer)):
    step = 7777  # odd sizes: writes (and pipe reads) split multi-byte characters
    for start in range(0, len(data), step):
        stream.write(data[start:start + step])
        stream.flush()
"""


def payloads() -> tuple[bytes, bytes]:
    namespace: dict = {}
    exec(PAYLOAD, namespace)
    return namespace["stdout_payload"](), namespace["stderr_payload"]()


def raw_log(step_run, name: str) -> bytes:
    """The log artifact's bytes exactly as the server serves them."""
    record = step_run._record(refresh=True)
    got = step_run._rest.read_range(record, layout.LOG_FILES[name], 0)
    assert got is not None, f"log {name} of {step_run.id} is missing"
    data, total = got
    assert total is None or total == len(data)
    return data


def test_logs_are_readable_while_the_step_runs(experiment, sink, tmp_path):
    src = write_script(tmp_path / "src", "live.py", LIVE)
    gates = [tmp_path / "gate1", tmp_path / "gate2"]
    run = experiment.submit(Pipeline(experiment.workspace, [
        PythonScriptStep("live.py", name="live", arguments=[str(g) for g in gates], source_directory=src)]))
    step = wait_until(lambda: run.find_step_run("live"), 30, "the step run")[0]

    first = wait_until(lambda: "first line" in (log := step.get_stdout_log()) and log, 30,
                       "the first line in stdout while the step runs")
    assert first == "first line: héllo 中文 🚀\n"
    assert step.get_status() == layout.RUNNING
    assert "starting" in step.get_job_log()

    gates[0].touch()
    printed = time.monotonic()
    wait_until(lambda: "second line" in step.get_stdout_log(), 10, "the second line while running")
    # about a second after being printed, not at the next 10-second upload (recorded for the report)
    seen_after = time.monotonic() - printed
    assert step.get_status() == layout.RUNNING
    assert seen_after < 5, f"the second line took {seen_after:.1f} s to become visible"

    # checked while the step runs: its spool goes with its work folder once it is over
    assert_sink(experiment.workspace, sink, run.id, "live")

    gates[1].touch()
    assert wait_terminal(run) == layout.FINISHED
    assert step.get_stdout_log() == "first line: héllo 中文 🚀\nsecond line\nlast line\n"


def test_logs_are_byte_exact_at_the_end(experiment, sink, tmp_path):
    src = write_script(tmp_path / "src", "bytes.py", BYTES)
    run = experiment.submit(Pipeline(experiment.workspace, [
        PythonScriptStep("bytes.py", name="bytes", source_directory=src)]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED
    step = run.find_step_run("bytes")[0]
    out, err = payloads()
    assert len(out) > 10 * 1024 * 1024

    assert raw_log(step, "stdout") == out
    assert raw_log(step, "stderr") == err
    assert step.get_stdout_log() == out.decode()
    assert step.get_stderr_log() == err.decode()

    # read incrementally in odd-sized ranges: no character split, lost or repeated
    reader = step.log_reader("stdout")
    parts = []
    while True:
        chunk = reader.read_new(max_bytes=1_000_003)
        if not chunk.new_bytes:
            break
        parts.append(chunk.text)
    parts.append(reader.read_new(final=True).text)
    assert "".join(parts) == out.decode()
    assert reader.offset == len(out)
    # (which sink shipped the logs is checked while a step runs, in the test above: the spool
    # files are removed with the step's work folder once it is over)


def test_stderr_and_job_logs(experiment, tmp_path):
    src = write_script(tmp_path / "src", "both.py", """
        import sys
        print("to stdout")
        print("to stderr: ⚠ careful", file=sys.stderr)
        sys.stderr.write("no newline")
    """)
    run = experiment.submit(Pipeline(experiment.workspace, [
        PythonScriptStep("both.py", name="both", arguments=["--flag", "value with space"],
                         source_directory=src)]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=60) == layout.FINISHED
    step = run.find_step_run("both")[0]
    assert step.get_stdout_log() == "to stdout\n"
    assert step.get_stderr_log() == "to stderr: ⚠ careful\nno newline"
    job = step.get_job_log()
    assert f"Step 'both' (run {step.id}) starting" in job
    assert "both.py --flag value with space" in job
    assert "exit code 0" in job
    details = step.get_details_with_logs()
    assert details["logFiles"][layout.LOG_FILES["stderr"]] == step.get_stderr_log()
    assert details["logFiles"][layout.LOG_FILES["job"]] == job
