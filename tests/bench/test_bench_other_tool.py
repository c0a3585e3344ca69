"""Benchmark: requests to read a finished 200-step pipeline of another tool.

The pipeline is written by MLflow's own client (``tests/servers/other_tool.py``): 200 child runs,
50 logs in all (``prep`` has stdout and stderr and outputs, ``train`` a log of its own name,
47 ``plain-*`` one stdout each) and 150 children with no artifacts at all, like many runs of other
tools. Two ways of reading it, each on a workspace of its own, counted by
``Transport.request_count`` and by the HTTP answers (404/500 = a request for something absent):

- ``wait_for_completion(show_output=True)`` on the pipeline (it has ended: one refresh);
- a ``PipelineRunWidget`` of it, then each step's view opened once (``selected`` = its node).

"today" is the code before the request economy for other tools' runs, in the same run: what it replaced is put
back for it (``StepRun.log_paths`` that guesses stdout/stderr/job when ``logs/`` is empty, the
waiting loop's readers of stdout and stderr only, a step view's first look that fetches the run
again, the outputs of every ended run listed at once, and an ``images/`` listing for every run).
Bar, for both ways: at most one listing per step + one read per existing log + 5.

A step view of a run of another tool lists its ``logs/`` (one listing; a run without it lists as
empty, on 2.x too) and reads each log there. Its outputs are not declared, and listing them walks
every folder under ``outputs/``, so the view lists them only when the user clicks "List outputs";
its ``images/`` only when MLflow's ``log_image`` tagged the run. The last row says what clicking
"List outputs" in every step's view would add (not part of the bar).
"""

from __future__ import annotations

import io

import pytest

from steprun_widgets import Experiment, PipelineRun, PipelineRunWidget, Workspace
from steprun_widgets.core import layout, waiting
from steprun_widgets.core.runs import StepRun
from steprun_widgets.core.waiting import wait_for_runs
from steprun_widgets.widgets.watch import StepWatch
from tests.bench.report import publish, table
from tests.servers.helpers import make_other_tool_runs, recording

pytestmark = pytest.mark.bench

STEPS = 200
PLAIN, BARE = 47, 150  # + prep, train, empty
EXISTING_LOGS = 2 + 1 + PLAIN


# --- main's code paths, put back for "today" --------------------------------------------------------
def _todays_log_paths(self, refresh: bool = False) -> dict[str, str]:
    if self._log_paths is None:
        record = self._record()
        if layout.is_step_run(record.tags):
            self._log_paths = dict(layout.LOG_FILES)
        else:
            found = {f.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]: f.path
                     for f in self._rest.list_artifacts(self.id, layout.LOGS_DIR) if not f.is_dir}
            self._log_paths = found or dict(layout.LOG_FILES)
    return self._log_paths


def _todays_readers_for(self):
    if not self.readers:
        paths = self.step.log_paths()
        self.readers = {n: self.step.log_reader(n) for n in waiting.STREAMED_LOGS if n in paths}
    return self.readers


def _todays_start(self):
    return self.apply(self.step_run._record(refresh=True), initial=True)


@pytest.fixture(scope="module")
def big_pipeline(tracking_uri):
    return make_other_tool_runs(tracking_uri, "bench-other-tool-200", PLAIN, BARE)


def _measure(tracking_uri: str, made: dict, how: str) -> dict:
    ws = Workspace(tracking_uri)
    run = PipelineRun(Experiment(ws, made["experiment"]), made["pipeline"])
    with recording(ws) as answers:
        before = ws.transport.request_count
        if how == "wait":
            out = io.StringIO()
            assert wait_for_runs(run, None, True, 300, False, out=out) == layout.FINISHED
            assert "Lost the connection" not in out.getvalue()
        else:
            widget = PipelineRunWidget(run, poll=False)
            assert len(widget.steps) == STEPS and widget.watch.final
            listed = {}
            for step in list(widget.steps):
                widget.selected = step["node_id"]
                view = widget.selected_step
                assert view is not None and view.watch.final
                if how == "list":
                    view._list_outputs()  # what the view's "List outputs" button asks for
                    listed[view.name] = {o["name"]: o["size"] for o in view.outputs}
            if how == "list":
                assert listed["prep"] == {"data.csv": 8, "model": 13 + 256}
            widget.close()
        requests = ws.transport.request_count - before
    kinds = answers.by_kind()
    ws.transport.close()
    return {"requests": requests, "listings": kinds["list"], "reads": kinds["read"],
            "absent": sum(1 for _, _, s in answers.seen if s in (404, 500))}


def test_bench_other_tool_pipeline(big_pipeline, tracking_uri, monkeypatch):
    assert len(big_pipeline["children"]) == STEPS
    bound = STEPS + EXISTING_LOGS + 5
    results = {}
    for how in ("wait", "widget"):
        results[("now", how)] = _measure(tracking_uri, big_pipeline, how)
        with monkeypatch.context() as patch:
            patch.setattr(StepRun, "log_paths", _todays_log_paths)
            patch.setattr(waiting._Watch, "readers_for", _todays_readers_for)
            patch.setattr(StepWatch, "start", _todays_start)
            patch.setattr(StepWatch, "outputs_on_request", False)
            patch.setattr(layout, "may_have_images", lambda tags: True)
            results[("today", how)] = _measure(tracking_uri, big_pipeline, how)
    asked = _measure(tracking_uri, big_pipeline, "list")
    rows = []
    for how, label in (("wait", "wait_for_completion(show_output=True)"),
                       ("widget", "PipelineRunWidget + each step's view")):
        for way in ("today", "now"):
            r = results[(way, how)]
            rows.append([f"{label}, {way}", r["requests"], r["listings"], r["reads"], r["absent"], bound])
        ratio = results[("today", how)]["requests"] / results[("now", how)]["requests"]
        rows.append([f"{label}: today / now", f"{ratio:.2f}x", "", "", "", ""])
    rows.append(["the same + \"List outputs\" clicked in each view, now", asked["requests"],
                 asked["listings"], asked["reads"], asked["absent"], "-"])
    publish("other_tool_pipeline", "Finished 200-step pipeline of another tool (MLflow's client; "
            f"{EXISTING_LOGS} logs, {BARE + 1} children without artifacts), requests to read it\n"
            + table(["way", "requests", "listings", "log reads", "404/500 answers", "issue's bar"], rows))
    for how in ("wait", "widget"):
        now = results[("now", how)]
        assert now["requests"] <= bound, (how, now)
        assert now["absent"] == 0, (how, now)
        assert now["reads"] == EXISTING_LOGS, (how, now)
        assert results[("today", how)]["requests"] > now["requests"]
    # Asked for, the outputs cost one outputs/ listing a step, plus prep's model/ and model/weights/.
    assert asked["listings"] == results[("now", "widget")]["listings"] + STEPS + 2, asked
