"""PipelineRunWidget: a pipeline run at a glance — graph, statuses, timeline, a step's view on click."""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from steprun_widgets.core.runs import PipelineRun
from steprun_widgets.errors import StepRunError
from steprun_widgets.widgets.base import RunWidget
from steprun_widgets.widgets.display import asset
from steprun_widgets.widgets.frontend import Bundle
from steprun_widgets.widgets.pipeline_watch import PipelineWatch
from steprun_widgets.widgets.poller import get_poller
from steprun_widgets.widgets.snapshot import HIDE_COMPANION_CSS
from steprun_widgets.widgets.step_widget import StepRunWidget


class PipelineRunWidget(RunWidget):
    """Shows a PipelineRun: its steps as a graph with status colours, counts and a timeline.

    Clicking a step opens that step's StepRunWidget view inside (created once per step, refreshed by
    the same kernel-wide poller). Display it as the last expression of a cell.
    """

    _esm = asset("pipeline_widget.js")
    _css = asset("pipeline_widget.css", extra_css=HIDE_COMPANION_CSS)
    _frontend = Bundle("pipeline_widget")
    _snapshot_kind = "pipeline"

    graph = traitlets.Dict().tag(sync=True)
    steps = traitlets.List().tag(sync=True)
    #: ``{"names": [...], "rows": [{"node_id", "run_id", "values": {name: last value}}]}``
    metrics_table = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    selected_step = anywidget.WidgetTrait().tag(sync=True)

    def __init__(self, pipeline_run: PipelineRun, *, poll: bool = True, **kwargs: Any) -> None:
        if not isinstance(pipeline_run, PipelineRun):
            raise StepRunError(f"PipelineRunWidget needs a PipelineRun, got {type(pipeline_run).__name__}")
        super().__init__(**kwargs)
        self.pipeline_run = pipeline_run
        self.watch = PipelineWatch(pipeline_run)
        self._children: dict[str, StepRunWidget] = {}
        self._poll = poll
        self._apply(self.watch.poll())
        if poll and not self.watch.final:
            get_poller().register(self)

    def _apply(self, traits: dict) -> None:
        self._update_traits(traits)
        self._refresh_companion(force=self.watch.final)

    # --- poller callbacks -----------------------------------------------------------------------
    def _on_poll(self) -> None:
        self._apply(self.watch.poll())

    def refresh(self) -> PipelineRunWidget:
        """Refresh from the server now (the pipeline and any open step view)."""
        get_poller().tick([self, *self._children.values()])
        return self

    # --- the step view --------------------------------------------------------------------------
    @traitlets.observe("selected")
    def _open_step(self, change: dict) -> None:
        node = change["new"]
        if not node:
            self.selected_step = None
            return
        try:
            self.selected_step = self.step_widget(node)
        except StepRunError as exc:
            self.selected_step = None
            self.error = self.error or str(exc)

    def step_widget(self, node_id: str) -> StepRunWidget:
        """The StepRunWidget of one node (made once, then kept and refreshed by the poller)."""
        if node_id not in self._children:
            with self.watch.lock:
                record = self.watch.step_records.get(node_id)
            if record is None:
                raise StepRunError(f"Pipeline run {self.run_id!r} has no step run for node {node_id!r} yet")
            self._children[node_id] = StepRunWidget(self.pipeline_run.step_run_for(record),
                                                    poll=self._poll)
        return self._children[node_id]

    def snapshot_state(self) -> dict:
        """The traits the snapshot shows, and the open step view's own state (as the live pane)."""
        state = {key: getattr(self, key) for key in
                 ("run_id", "name", "status", "start_time", "end_time", "error", "graph", "steps",
                  "metrics_table")}
        child = self._children.get(self.selected) if self.selected else None
        if child is not None:
            state["selected_step_state"] = child.snapshot_state()
        return state

    def close(self) -> None:
        get_poller().unregister(self)
        for child in self._children.values():
            child.close()
        super().close()


__all__ = ["PipelineRunWidget"]
