"""PipelineRunWidget: a pipeline run at a glance — graph, statuses, timeline, a step's view on click."""

from __future__ import annotations

from typing import Any

import traitlets

from steprun_widgets.core.runs import PipelineRun
from steprun_widgets.errors import StepRunError, redact
from steprun_widgets.widgets.base import RunWidget
from steprun_widgets.widgets.cancel_control import request_cancel
from steprun_widgets.widgets.comm_route import kernel_serves_while_busy
from steprun_widgets.widgets.display import asset
from steprun_widgets.widgets.frontend import Bundle
from steprun_widgets.widgets.pipeline_watch import PipelineWatch
from steprun_widgets.widgets.poller import get_poller
from steprun_widgets.widgets.step_view import StepPane
from steprun_widgets.widgets.step_widget import StepRunWidget


class PipelineRunWidget(RunWidget):
    """Shows a PipelineRun: its steps as a graph with status colours, counts and a timeline.

    Clicking a step opens that step's view inside, served on this widget's own model (``pane``,
    ``pane_logs`` and messages marked with the node; see ``StepPane``): a click opens no new
    widget model. ``selected_step`` is the open step's ``StepPane``; ``step_widget(node_id)`` makes
    a separate StepRunWidget to display in a cell of its own. Display it as the last expression
    of a cell.
    """

    _esm = asset("pipeline_widget.js")
    _css = asset("pipeline_widget.css")
    _frontend = Bundle("pipeline_widget")
    _snapshot_kind = "pipeline"
    _open_failed = False  # the header says a step view could not be opened

    graph = traitlets.Dict().tag(sync=True)
    steps = traitlets.List().tag(sync=True)
    #: ``{"names": [...], "rows": [{"node_id", "run_id", "values": {name: last value}}]}``
    metrics_table = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    #: The open step's state as a StepRunWidget's traits (without logs and metrics) plus
    #: ``node_id``; ``{}`` while no step view is open.
    pane = traitlets.Dict().tag(sync=True)
    #: The open step's ``logs`` and ``metrics`` (refreshed only now and then, like a StepRunWidget's).
    pane_logs = traitlets.Dict().tag(sync=True)
    tail_lines = traitlets.Int(2000).tag(sync=True)

    def __init__(self, pipeline_run: PipelineRun, *, poll: bool = True, **kwargs: Any) -> None:
        if not isinstance(pipeline_run, PipelineRun):
            raise StepRunError(f"PipelineRunWidget needs a PipelineRun, got {type(pipeline_run).__name__}")
        super().__init__(**kwargs)
        self.pipeline_run = pipeline_run
        self.watch = PipelineWatch(pipeline_run)
        self._children: dict[str, StepRunWidget] = {}
        self._panes: dict[str, StepPane] = {}
        self._poll = poll
        self.on_msg(self._handle_message)
        self._apply(self.watch.poll())
        if poll and not self.watch.final:
            get_poller().register(self)

    def _apply(self, traits: dict) -> None:
        self._update_traits(traits)
        self._refresh_companion(force=self.watch.final)

    # --- poller callbacks -----------------------------------------------------------------------
    def _on_poll(self) -> None:
        self._apply(self.watch.poll())
        if self.selected and self.selected_step is None:  # the selected step has a run now
            self._show_pane(self.selected)

    def _run(self) -> Any:
        return self.pipeline_run

    def refresh(self) -> PipelineRunWidget:
        """Refresh from the server now: the pipeline, its open step view and the widgets that
        ``step_widget()`` made (step views opened before are refreshed when opened again)."""
        pane = self.selected_step
        get_poller().tick([self, *self._children.values(), *([pane] if pane is not None else [])])
        return self

    # --- the step view --------------------------------------------------------------------------
    @property
    def selected_step(self) -> StepPane | None:
        """The open step's view (its ``StepPane``: ``step_run``, ``watch``, ``state``), or None."""
        pane = self._panes.get(self.selected) if self.selected else None
        return pane if pane is not None and self.pane.get("node_id") == pane.node_id else None

    @traitlets.observe("selected")
    def _open_step(self, change: dict) -> None:
        old = self._panes.get(change["old"])
        if old is not None:
            get_poller().unregister(old)  # only the open step's view is refreshed
        self._show_pane(change["new"])

    def _show_pane(self, node_id: str) -> None:
        failed = ""
        try:
            pane = self._pane_for(node_id) if node_id else None
        except StepRunError as exc:
            # The server failed while the view opened: said in the header (as a poll failure is);
            # tried again on the next poll while the pipeline is watched, or on the next click.
            pane, failed = None, redact(f"Opening the view of step {node_id!r} failed: {exc}")[:500]
        if failed or self._open_failed:  # the notice of a failed opening goes once one works
            self._open_failed = bool(failed)
            self._on_connection(not failed, failed)
        if pane is None:
            with self.hold_sync():
                self.pane, self.pane_logs = {}, {}
        else:
            if self._poll and not pane.watch.final:
                get_poller().register(pane)
            self._publish_pane(pane, logs=True)
        self._refresh_companion(force=True)  # the saved snapshot shows the open step view, or none

    def _pane_for(self, node_id: str) -> StepPane | None:
        """The view of one node (made once, then kept), or None while the node has no run yet."""
        if node_id not in self._panes:
            with self.watch.lock:
                record = self.watch.step_records.get(node_id)
            if record is None:
                return None
            self._panes[node_id] = StepPane(self, node_id, self.pipeline_run.step_run_for(record),
                                            self.tail_lines)
        return self._panes[node_id]

    def _publish_pane(self, pane: StepPane, logs: bool = False, final: bool = False) -> None:
        """A pane's state changed: publish it if it is the open one (``logs``: its tails too;
        ``final``: the step's last state, which the saved snapshot then shows)."""
        if pane.node_id != self.selected:
            return
        state = {k: v for k, v in pane.state.items() if k not in ("logs", "metrics")}
        with self.hold_sync():
            self._update_traits({"pane": {**state, "node_id": pane.node_id}})
            if logs or self.pane_logs.get("node_id") != pane.node_id:
                self.pane_logs = {"node_id": pane.node_id, "logs": pane.state.get("logs", {}),
                                  "metrics": pane.state.get("metrics", {})}
        if final and self.selected_step is pane:  # (a pane being made: _show_pane refreshes it next)
            self._refresh_companion(force=True)

    def step_widget(self, node_id: str) -> StepRunWidget:
        """A StepRunWidget of one node, to display in a cell of its own (made once, then kept)."""
        if node_id not in self._children:
            with self.watch.lock:
                record = self.watch.step_records.get(node_id)
            if record is None:
                raise StepRunError(f"Pipeline run {self.run_id!r} has no step run for node {node_id!r} yet")
            self._children[node_id] = StepRunWidget(self.pipeline_run.step_run_for(record),
                                                    poll=self._poll)
        return self._children[node_id]

    # --- browser messages -----------------------------------------------------------------------
    def _handle_message(self, _widget: Any, content: dict, buffers: list[bytes]) -> None:
        if not isinstance(content, dict):
            return
        if "pane" in content:  # the step view's own messages (docs/widget-protocol.md)
            pane = self._panes.get(str(content["pane"]))
            if pane is not None:
                pane.session.handle({k: v for k, v in content.items() if k != "pane"}, buffers)
            return
        kind = content.get("type")
        if kind == "sync":
            self.send({"type": "sync_done", "serves_while_busy": kernel_serves_while_busy()})
        elif kind == "cancel":
            request_cancel(self.pipeline_run, self.send, str(content.get("request_id", "")))

    def snapshot_state(self) -> dict:
        """The traits the snapshot shows, and the open step view's own state (as the live pane)."""
        state = {key: getattr(self, key) for key in
                 ("run_id", "name", "status", "start_time", "end_time", "error", "graph", "steps",
                  "metrics_table")}
        pane = self.selected_step
        if pane is not None:
            state["selected_step_state"] = pane.session.full_state()
        return state

    def close(self) -> None:
        get_poller().unregister(self)
        for child in self._children.values():
            child.close()
        for pane in self._panes.values():
            pane.close()
        super().close()


__all__ = ["PipelineRunWidget"]
