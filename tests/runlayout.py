"""Test helper: create pipeline runs, step runs, logs and outputs through the MLflow REST API.

Runs are laid out exactly as docs/run-layout.md says the runner writes them. Every tag name, artifact path and
status word comes from :mod:`steprun_widgets.core.layout`; this module never spells one itself.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from steprun_widgets.core import layout
from steprun_widgets.core.rest import MlflowRest, RunRecord
from steprun_widgets.core.workspace import Workspace


def now_ms() -> int:
    return int(time.time() * 1000)


def _bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


class RunLayout:
    """Writes runs into one experiment the way the local runner does (docs/run-layout.md)."""

    def __init__(self, workspace: Workspace, experiment_name: str) -> None:
        self.workspace = workspace
        self.rest: MlflowRest = workspace.rest
        self.experiment_name = experiment_name
        self.experiment_id = self.rest.get_or_create_experiment(experiment_name)

    # --- runs -----------------------------------------------------------------------------------
    def pipeline(self, name: str = "pipeline", steps: Sequence[str] = (),
                 edges: Sequence[tuple[str, str]] = (), status: str = layout.RUNNING,
                 heartbeat: bool = False,
                 edge_data: Mapping[tuple[str, str], list[str]] | None = None) -> RunRecord:
        """A top-level pipeline run; ``steps`` are node names (node id = ``node-<name>``);
        ``edge_data`` maps (from name, to name) to the PipelineData names that flow along it."""
        nodes = [{"id": self.node_id(s), "name": s} for s in steps]
        graph_edges = [(self.node_id(a), self.node_id(b)) for a, b in edges]
        data = {(self.node_id(a), self.node_id(b)): names for (a, b), names in (edge_data or {}).items()}
        tags = {layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_PIPELINE,
                **layout.graph_tags(layout.encode_graph(nodes, graph_edges, data))}
        if heartbeat:
            tags[layout.TAG_HEARTBEAT] = layout.heartbeat_value()
        run = self.rest.create_run(self.experiment_id, name=name, tags=tags)
        return self.set_status(run, status)

    @staticmethod
    def node_id(step_name: str) -> str:
        return f"node-{step_name}"

    def step(self, pipeline: RunRecord, name: str, status: str = layout.RUNNING,
             node_id: str | None = None, extra_tags: Mapping[str, str] | None = None) -> RunRecord:
        """A step run of ``pipeline`` with the step tags of docs/run-layout.md."""
        tags = {
            layout.TAG_PARENT_RUN_ID: pipeline.run_id,
            layout.TAG_RUN_SOURCE: layout.RUN_SOURCE_STEP,
            layout.TAG_NODE_ID: node_id or self.node_id(name),
            layout.TAG_PIPELINE: pipeline.run_id,
            **(extra_tags or {}),
        }
        run = self.rest.create_run(self.experiment_id, name=name, tags=tags)
        return self.set_status(run, status)

    def reused_step(self, pipeline: RunRecord, name: str, original: RunRecord,
                    node_id: str | None = None, status: str = layout.FINISHED) -> RunRecord:
        """A step of ``pipeline`` whose results came from ``original`` (an earlier step run)."""
        extra = {
            layout.TAG_REUSED_RUN_ID: original.run_id,
            layout.TAG_REUSED_NODE_ID: original.tags[layout.TAG_NODE_ID],
            layout.TAG_REUSED_PIPELINE: original.tags[layout.TAG_PIPELINE],
        }
        return self.step(pipeline, name, status=status, node_id=node_id, extra_tags=extra)

    def foreign_run(self, name: str | None = None, parent: RunRecord | None = None,
                    status: str = layout.RUNNING) -> RunRecord:
        """A run made by another tool: none of the layout tags, only MLflow's own parent link."""
        tags = {layout.TAG_PARENT_RUN_ID: parent.run_id} if parent is not None else {}
        body_name = name or f"foreign-{now_ms()}"
        run = self.rest.create_run(self.experiment_id, name=body_name, tags=tags)
        return self.set_status(run, status)

    # --- status, heartbeat, failure -------------------------------------------------------------
    def set_status(self, run: RunRecord, status: str) -> RunRecord:
        """Set an Azure ML v1 status (``Running``, ``Finished``...) as the runner would; returns the run."""
        if status == layout.NOT_STARTED:
            self.rest.set_tag(run.run_id, layout.TAG_NOT_STARTED, "true")
            status = layout.QUEUED
        started = run.tags.get(layout.TAG_STARTED_AT) or run.tags.get(layout.TAG_REUSED_RUN_ID)
        if layout.is_step_run(run.tags) and status != layout.QUEUED and not started:
            # the runner tags each step it starts (a reused one is created Finished, never started)
            self.rest.set_tag(run.run_id, layout.TAG_STARTED_AT, str(now_ms()))
        mlflow_status = layout.MLFLOW_STATUS[status]
        end = now_ms() if layout.is_terminal(status) else None
        self.rest.update_run(run.run_id, mlflow_status, end)
        return self.rest.get_run(run.run_id)

    def heartbeat(self, run: RunRecord, age_seconds: float = 0.0) -> None:
        """Write the runner's heartbeat as if it was sent ``age_seconds`` ago."""
        self.rest.set_tag(run.run_id, layout.TAG_HEARTBEAT,
                          layout.heartbeat_value(time.time() - age_seconds))

    def fail(self, run: RunRecord, error: str) -> RunRecord:
        """Mark a run Failed with its one-line reason."""
        self.rest.set_tag(run.run_id, layout.TAG_ERROR, error)
        return self.set_status(run, layout.FAILED)

    # --- logs and outputs -----------------------------------------------------------------------
    def log(self, run: RunRecord, log_name: str, data: bytes | str) -> None:
        """Upload (replace) the whole current content of a log (``stdout``, ``stderr``, ``job``)."""
        self.rest.upload_artifact(run, layout.LOG_FILES[log_name], _bytes(data))

    def artifact(self, run: RunRecord, path: str, data: bytes | str) -> None:
        """Upload one artifact at an arbitrary path (runs of other tools, hostile names)."""
        self.rest.upload_artifact(run, path, _bytes(data))

    def output(self, run: RunRecord, output_name: str, files: Mapping[str, bytes | str]) -> None:
        """Upload an output folder: ``files`` maps paths inside the output to their content."""
        for rel, data in files.items():
            self.rest.upload_artifact(run, f"{layout.output_path(output_name)}/{rel}", _bytes(data))
