"""What a PipelineRunWidget watches: the pipeline run and its steps, two requests a refresh."""

from __future__ import annotations

import threading

from steprun_widgets.core import layout, reuse_explain
from steprun_widgets.core.rest import RunRecord
from steprun_widgets.core.runs import PipelineRun
from steprun_widgets.widgets.metrics_watch import metrics_table


class PipelineWatch:
    """Follows a pipeline run: its record, its graph and one summary per step."""

    def __init__(self, pipeline_run: PipelineRun) -> None:
        self.pipeline_run = pipeline_run
        self.lock = threading.RLock()
        self.record: RunRecord | None = None
        self.step_records: dict[str, RunRecord] = {}
        #: Records of the original runs of reused steps (final: fetched once each, for metrics).
        self.originals: dict[str, RunRecord] = {}
        self.final = False

    @property
    def rest(self):
        return self.pipeline_run._rest

    @property
    def run_id(self) -> str:
        return self.pipeline_run.id

    def poll(self) -> dict:
        """Fetch the pipeline (runs/get) and its steps (one runs/search); return the traits."""
        record = self.pipeline_run._record(refresh=True)
        steps = self.pipeline_run.step_records()
        for r in steps:
            reused = r.tags.get(layout.TAG_REUSED_RUN_ID)
            if reused and reused not in self.originals:
                self.originals[reused] = self.pipeline_run._rest.get_run(reused)
        with self.lock:
            self.record = record
            self.step_records = {r.tags.get(layout.TAG_NODE_ID) or r.run_id: r for r in steps}
            status = record.azureml_status()
            self.final = layout.is_terminal(status) and all(
                layout.is_terminal(r.azureml_status()) for r in steps)
            return self.traits()

    def traits(self) -> dict:
        record = self.record
        assert record is not None
        graph_json = layout.graph_value(record.tags)
        graph = layout.decode_graph(graph_json)
        edge_data = layout.decode_edge_data(graph_json)
        if not graph["nodes"]:  # a pipeline written by another tool: its child runs, no edges
            graph = {"nodes": [{"id": key, "name": r.name} for key, r in self.step_records.items()],
                     "edges": []}
        steps = []
        table_rows = []
        for node in graph["nodes"]:
            r = self.step_records.get(node["id"])
            if r is None:
                steps.append({"node_id": node["id"], "run_id": "", "name": node.get("name", ""),
                              "status": layout.NOT_STARTED, "queued_time": None, "start_time": None,
                              "end_time": None, "reused": False, "reused_run_id": "", "error": "",
                              "why": ""})
                continue
            reused = r.tags.get(layout.TAG_REUSED_RUN_ID, "")
            table_rows.append((node["id"], reused or r.run_id, self.originals.get(reused, r)))
            steps.append({
                "node_id": node["id"], "run_id": reused or r.run_id, "name": node.get("name") or r.name,
                "status": r.azureml_status(), "queued_time": _ms(r.start_time),
                "start_time": _ms(r.started_ms),
                "end_time": _ms(r.end_time), "reused": bool(reused), "reused_run_id": reused,
                "error": r.tags.get(layout.TAG_ERROR, ""), "why": _why(r),
            })
        return {
            "run_id": record.run_id, "name": record.name, "status": record.azureml_status(),
            "start_time": _ms(record.start_time), "end_time": _ms(record.end_time),
            "error": record.tags.get(layout.TAG_ERROR, ""),
            "graph": {"nodes": graph["nodes"],
                      "edges": [[*e, edge_data[e]] if e in edge_data else list(e) for e in graph["edges"]]},
            "steps": steps,
            "metrics_table": metrics_table(table_rows),
        }


def _why(record: RunRecord) -> str:
    """Why the step ran or was reused: the sentence submission tagged; for a step run of an older
    runner, that it has no record; nothing for a run of another tool."""
    tags = record.tags
    if tags.get(layout.TAG_REUSE_WHY):
        return tags[layout.TAG_REUSE_WHY]
    if not layout.is_step_run(tags):
        return ""
    reused = tags.get(layout.TAG_REUSED_RUN_ID)
    return reuse_explain.explain(None, reused_from=(reused, tags.get(layout.TAG_REUSED_PIPELINE, ""))
                                 if reused else None)


def _ms(value: int | None) -> float | None:
    return float(value) if value else None
