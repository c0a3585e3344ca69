"""The kernel's one poller: requests per tick, nothing for final runs, closed/collected widgets.

Request counts come from ``Workspace.transport.request_count`` of a workspace used by nothing but
the widgets under test (the runner has its own). Widgets are created with ``poll=False`` and
ticked by hand where exact counts matter, so the background thread cannot add requests.
"""

from __future__ import annotations

import gc
import time
import weakref

from ipywidgets.widgets import widget as ipywidget

from steprun_widgets import Experiment, PipelineRun, Workspace
from steprun_widgets.core import layout
from steprun_widgets.widgets.poller import get_poller
from tests.widgets.helpers import script_step, submit, wait_until, watch_widget

TALKER = """
import time
for i in range({count}):
    print(f"{{i}} " + "ü" * i, flush=True)
    time.sleep({every})
"""


class PathLog:
    """Records the path of every request a workspace sends (wraps ``Transport.request``)."""

    def __init__(self, workspace: Workspace) -> None:
        self.paths: list[str] = []
        transport = workspace.transport
        inner = transport.request

        def request(method, path, **kwargs):
            self.paths.append(path)
            return inner(method, path, **kwargs)

        transport.request = request

    def since(self, start: int) -> list[str]:
        return self.paths[start:]


class Tick:
    """What one tick cost, and what the run records it fetched say it should have cost.

    A log is read when its step runs and the runner published a size for it larger than what the
    widget has read (a published size may lag behind what was read); the last refresh of a run
    that just ended reads its three logs and lists its outputs (one request: it has none).
    """

    def __init__(self, requests: int, paths: list[str], widgets, offsets, was_final) -> None:
        self.requests, self.paths = requests, [p.rsplit("/", 1)[-1] for p in paths]
        self.expected, self.grew, self.ended = 1, 0, 0
        self.wasted: list[str] = []
        for w in widgets:
            if was_final[id(w)]:
                continue
            if w.watch.final:  # its last refresh
                self.ended += 1
                self.expected += len(w.watch.logs) + 2  # its logs, outputs/ and images/
                continue
            sizes = layout.decode_log_sizes(w.watch.record.tags.get(layout.TAG_LOG_SIZES)) or {}
            for name, tail in w.watch.logs.items():
                before = offsets[(id(w), name)]
                grown = tail.total_bytes != before
                self.grew += grown
                if sizes.get(name, -1) > before:
                    self.expected += 1
                    if not grown:
                        self.wasted.append(f"{w.name}/{name}")

    def __repr__(self) -> str:
        return (f"Tick(requests={self.requests}, expected={self.expected}, grew={self.grew}, "
                f"ended={self.ended}, wasted={self.wasted}, {self.paths})")


def test_requests_per_tick_one_search_plus_one_get_per_grown_log(experiment, tmp_path):
    n = 4
    steps = [script_step(tmp_path, f"talk{i}", TALKER.format(count=12 + 3 * i, every=0.3))
             for i in range(n)]
    run = submit(experiment, steps)
    ws = Workspace(experiment.workspace.tracking_uri)  # the widgets' own: nothing else uses it
    step_runs = PipelineRun(Experiment(ws, experiment.name), run.id).get_steps()
    widgets = [watch_widget(s)[0] for s in step_runs]
    log = PathLog(ws)
    transport = ws.transport

    ticks = []
    deadline = time.monotonic() + 90
    while not all(w.watch.final for w in widgets):
        assert time.monotonic() < deadline, [w.status for w in widgets]
        offsets = {(id(w), name): t.total_bytes for w in widgets for name, t in w.watch.logs.items()}
        was_final = {id(w): w.watch.final for w in widgets}
        before, at = transport.request_count, len(log.paths)
        get_poller().tick(widgets)
        ticks.append(Tick(transport.request_count - before, log.since(at), widgets, offsets, was_final))
        time.sleep(0.3)

    assert len(ticks) >= 5
    for tick in ticks:
        assert tick.paths[0] == "search" and tick.paths.count("search") == 1, tick
        assert tick.requests == tick.expected, tick
        assert not tick.wasted, f"a log read although its published size had not grown: {tick}"
        assert tick.grew <= tick.requests - 1  # (the last refreshes also read grown logs)
    assert sum(t.grew for t in ticks) >= n * 3  # logs did grow while we watched

    # Final runs cost nothing, whether ticked explicitly, by refresh() or by the background poller.
    before = transport.request_count
    get_poller().tick(widgets)
    get_poller().tick()
    for w in widgets:
        w.refresh()
        assert w.status == layout.FINISHED
    assert transport.request_count == before
    for w, s in zip(widgets, step_runs, strict=True):
        assert w.logs["stdout"]["tail"] == s.get_stdout_log()


def _unreferenced_running_widget(step_run) -> weakref.ref:
    """A registered widget of a running step, left with no reference but a weak one.

    An open widget is held by two registries until it is closed: ipywidgets' instance registry and
    the comm manager (through its comm's message callback). Both links are dropped here, as when
    they hold widgets weakly (ipywidgets' weak-reference mode), so that only the poller's own
    reference is left. (Built in a function of its own so no frame of the test holds it.)
    """
    widget = watch_widget(step_run, register=True)[0]
    assert widget in get_poller().watched()
    wait_until(lambda: widget.status == layout.RUNNING, 30, "the step to run")
    ipywidget._instances.pop(widget.model_id, None)
    widget.comm.on_msg(None)
    return weakref.ref(widget)


def test_closed_and_collected_widgets_are_not_polled(experiment, tmp_path):
    # The closed and the collected widgets' steps run first (2 cores: the third step waits).
    steps = [script_step(tmp_path, f"slow{i}", TALKER.format(count=count, every=0.5))
             for i, count in enumerate((16, 16, 6))]
    run = submit(experiment, steps)
    workspaces = [Workspace(experiment.workspace.tracking_uri) for _ in range(3)]
    step_runs = [PipelineRun(Experiment(ws, experiment.name), run.id).steps_in_graph_order()[i]
                 for i, ws in zip((2, 0, 1), workspaces, strict=True)]
    live = watch_widget(step_runs[0], register=True)[0]
    closed = watch_widget(step_runs[1], register=True)[0]
    statuses = [live.status]
    live.observe(lambda c: statuses.append(c["new"]), names="status")
    poller = get_poller()
    assert live in poller.watched() and closed in poller.watched()
    gone = _unreferenced_running_widget(step_runs[2])
    wait_until(lambda: closed.status == layout.RUNNING, 30, "the step to run")

    closed.close()
    gc.collect()
    assert gone() is None, "the widget was not collected"
    assert closed not in poller.watched()

    counts = [ws.transport.request_count for ws in workspaces]
    time.sleep(3.5)  # the background poller ticks about once a second meanwhile
    poller.tick()
    after = [ws.transport.request_count for ws in workspaces]
    assert after[1] == counts[1], "a closed widget was polled"
    assert after[2] == counts[2], "a garbage-collected widget was polled"
    assert after[0] - counts[0] >= 2, "the live widget was not polled"
    assert step_runs[1].get_status() == layout.RUNNING  # it was still running: polling had a reason

    # The background thread alone takes the live widget to its end.
    wait_until(lambda: live.status == layout.FINISHED, 60, "the background poller to see Finished")
    assert layout.RUNNING in statuses
    assert live.logs["stdout"]["tail"] == step_runs[0].get_stdout_log()
    assert live not in poller.watched()
    for ws in workspaces:
        ws.transport.close()
