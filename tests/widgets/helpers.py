"""Helpers of the widget tests: step scripts, a recorder standing in for the browser, deadlines.

The server, the runner and the widget are real; only the browser end of the comm is replaced by a
:class:`Recorder` put in place of ``widget.send`` on the instance.
"""

from __future__ import annotations

import time
from pathlib import Path

from steprun_widgets import StepRunWidget
from steprun_widgets.local import PipelineData, PythonScriptStep
from tests.support import (  # noqa: F401  (re-exported for the suite's tests)
    RUNNER_MODULE,
    Recorder,
    embedded_workspace,
    kill_runners,
    stop_leftovers,
    submit,
    wait_until,
    watch_widget,
    write_script,
)


def script_step(folder: Path, name: str, code: str, *, outputs: tuple[str, ...] = (),
                allow_reuse: bool = False) -> PythonScriptStep:
    """A one-script step in its own folder; each output's folder is passed as an argument."""
    data = [PipelineData(o) for o in outputs]
    source = write_script(folder / name, f"{name}.py", code)
    return PythonScriptStep(f"{name}.py", name=name, arguments=data, outputs=data,
                            source_directory=source, allow_reuse=allow_reuse)


def drive(widgets: list[StepRunWidget], timeout: float = 90.0, interval: float = 0.5) -> int:
    """Tick the poller by hand for these widgets until all are final; returns the ticks done."""
    from steprun_widgets.widgets.poller import get_poller

    deadline = time.monotonic() + timeout
    ticks = 0
    while not all(w.watch.final for w in widgets):
        if time.monotonic() > deadline:
            raise AssertionError(f"widgets not final after {timeout:g} s: "
                                 f"{[(w.name, w.status) for w in widgets]}")
        get_poller().tick([w for w in widgets if not w.watch.final])
        ticks += 1
        time.sleep(interval)
    return ticks
