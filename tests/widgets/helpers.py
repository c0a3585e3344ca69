"""Helpers of the widget tests: step scripts, a recorder standing in for the browser, deadlines.

The server, the runner and the widget are real; only the browser end of the comm is replaced by a
:class:`Recorder` put in place of ``widget.send`` on the instance.
"""

from __future__ import annotations

import time

from steprun_widgets import StepRunWidget
from tests.support import (  # noqa: F401  (re-exported for the suite's tests)
    RUNNER_MODULE,
    Recorder,
    embedded_workspace,
    kill_runners,
    script_step,
    stop_leftovers,
    submit,
    wait_until,
    watch_widget,
    write_script,
)


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
