"""The step's process and its log files, on real processes and a real (small, full) tmpfs.

* a sink that fails never stops the pumps: the script is never blocked on a full pipe;
* the duration the job log gives is the script's own, not the time the runner took to notice it;
* a log write that fails on a full disk is held and written, in order, once space returns.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from steprun_widgets.local.execute import StepProcess
from steprun_widgets.local.logship import HOLD_LIMIT, HeldFile

PRINT_2_MIB = "import sys\nfor i in range(2048):\n    sys.stdout.write('y' * 1023 + '\\n')\n"


class BrokenSink:
    """A sink whose every write fails, as a log on a broken disk would."""

    def __init__(self) -> None:
        self.calls = 0

    def write(self, data: bytes) -> None:
        self.calls += 1
        raise OSError(errno.EIO, "Input/output error")


class Collect:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data


def _finish(process: StepProcess, guard: float = 60) -> int:
    """process.finish() with a hang guard (a blocked script would never exit)."""
    out: list[int] = []
    thread = threading.Thread(target=lambda: out.append(process.finish()), daemon=True)
    thread.start()
    thread.join(guard)
    if not out:
        process.stop()
        pytest.fail(f"the script did not end within {guard} s: blocked on its pipe?")
    return out[0]


def test_a_failing_sink_never_blocks_the_script(tmp_path):
    sink = BrokenSink()
    process = StepProcess([sys.executable, "-c", PRINT_2_MIB], str(tmp_path), {}, sink, Collect())
    assert _finish(process) == 0
    assert sink.calls >= 1 and process.pump_error and "Input/output error" in process.pump_error


def test_the_duration_is_the_scripts_own_not_the_time_it_took_to_notice(tmp_path):
    process = StepProcess([sys.executable, "-c", "pass"], str(tmp_path), {}, Collect(), Collect())
    deadline = time.monotonic() + 60
    while process.ended_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.ended_at is not None, "the exit was noted"
    took = process.took
    time.sleep(0.5)  # the runner busy elsewhere (a server outage) before it gets to the step
    assert _finish(process) == 0
    assert process.took == took == process.ended_at - process.started_at


@pytest.fixture
def tiny_tmpfs(tmp_path):
    folder = tmp_path / "tmpfs"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "steprun-test", str(folder)],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (mounting needs root): {(done.stderr or done.stdout).strip()}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_held_bytes_are_written_in_order_once_space_returns(tiny_tmpfs):
    log = HeldFile(tiny_tmpfs / "stdout.txt", "log 'logs/stdout.txt'")
    lines = [f"line {i:05d} ✓\n".encode() for i in range(20000)]  # ~300 KiB
    log.write(b"".join(lines[:100]))
    filler = _fill(tiny_tmpfs)
    for line in lines[100:]:
        log.write(line)
    assert log.held > 0 and log.fault is not None and log.fault.errno == errno.ENOSPC
    problem = log.problem()
    assert problem and "No space left on device" in problem and str(tiny_tmpfs / "stdout.txt") in problem
    filler.unlink()
    assert log.finish(wait=5) is None
    assert (tiny_tmpfs / "stdout.txt").read_bytes() == b"".join(lines)


def test_more_than_the_hold_is_dropped_after_a_whole_prefix_and_said(tiny_tmpfs):
    log = HeldFile(tiny_tmpfs / "stdout.txt", "log 'logs/stdout.txt'")
    _fill(tiny_tmpfs)
    block = b"z" * 65535 + b"\n"
    for _ in range(HOLD_LIMIT // len(block) + 2):
        log.write(block)
    assert log.lost > 0
    problem = log.finish(wait=0)
    assert problem and "No space left on device" in problem and "dropped" in problem, problem
    text = (tiny_tmpfs / "stdout.txt").read_bytes()
    assert text == (block * (len(text) // len(block) + 1))[:len(text)], "a prefix, nothing repeated"
