"""notebooks/quickstart.ipynb and notebooks/teaching.ipynb, executed with nbclient in a real kernel.

Each runs in a temp copy of notebooks/ against the session's MLflow server, with widget state
stored as Jupyter saves it. A cell that raises fails the test (the teaching notebook's cells assert
what they teach). The saved outputs must hold the widget views, their saved state, and the static
snapshots that viewers without a widget manager show.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from tests.notebooks.helpers import (
    NOTEBOOKS,
    WIDGET_VIEW,
    anywidget_states,
    executed_notebook,
    outputs,
    text,
    widget_states,
)

NAMES = ["quickstart.ipynb", "teaching.ipynb"]


def _displays(nb) -> list[tuple[dict, dict | None]]:
    """(widget view output, the companion output right after it) for each widget displayed."""
    found = []
    for cell in nb["cells"]:
        outs = cell.get("outputs", []) if cell["cell_type"] == "code" else []
        for i, out in enumerate(outs):
            if WIDGET_VIEW in out.get("data", {}) and "text/html" in out["data"]:
                nxt = outs[i + 1] if i + 1 < len(outs) else None
                found.append((out, nxt))
    return found


def _companion_html(out: dict | None) -> str:
    html = text((out or {}).get("data", {}).get("text/html"))
    assert 'class="srw-snapshot-companion"' in html, f"no snapshot companion after the widget: {out}"
    return html


def _check_widget_outputs(nb) -> list[tuple[dict, str]]:
    """Every one of our widgets displayed has saved state and a static snapshot beside it."""
    states = widget_states(nb)
    shown = []
    for view, companion in _displays(nb):
        model_id = view["data"][WIDGET_VIEW]["model_id"]
        assert model_id in states, f"widget {model_id} has no saved state"
        assert states[model_id]["model_module"] == "anywidget"
        html = _companion_html(companion)
        assert "<script" not in html.lower()
        # the live view's own text/html is empty: its snapshot would be frozen at display time
        assert text(view["data"]["text/html"]) == ""
        shown.append((states[model_id]["state"], html))
    return shown


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_no_outputs_and_a_kernelspec(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


def test_quickstart_notebook_runs_and_keeps_its_widgets(tmp_path_factory, tracking_uri):
    path = executed_notebook("quickstart.ipynb", tmp_path_factory, tracking_uri)
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert not outputs(nb, "error")

    shown = _check_widget_outputs(nb)
    pipelines = [(s, h) for s, h in shown if "graph" in s]
    steps = [(s, h) for s, h in shown if "logs" in s]
    assert len(pipelines) >= 2 and len(steps) >= 2, [s.get("name") for s, _ in shown]
    for state in anywidget_states(nb):  # RunDetails(run) after wait_for_completion: the final state
        if "graph" in state and state["status"] == "Finished":
            assert [n["name"] for n in state["graph"]["nodes"]] == ["prep", "train", "evaluate"]
            assert [s["status"] for s in state["steps"]] == ["Finished"] * 3
            break
    else:
        raise AssertionError("no saved PipelineRunWidget state of the finished run")

    # The widgets displayed once the run was over (RunDetails) show its final state in the snapshot.
    final_pipeline = pipelines[-1][1]
    assert "✔ Finished" in final_pipeline
    assert all(f"<td style=\"text-align:left\" class='srw-name'>{name}</td>" in final_pipeline
               for name in ("prep", "train", "evaluate"))
    evaluate_state, evaluate_html = steps[-1]
    assert evaluate_state["name"] == "evaluate" and evaluate_state["status"] == "Finished"
    assert "evaluate: y ≈" in evaluate_state["logs"]["stdout"]["tail"]
    assert "evaluate: y ≈" in evaluate_html and "metrics" in evaluate_html

    # Azure ML v1's documented examples ran: the steps listed, the metrics downloaded where the notebook said.
    streams = "".join(text(o.get("text")) for o in outputs(nb, "stream"))
    assert re.search(r"prep +Finished", streams) and "[train] train: epoch 10/10" in streams
    metrics = list(path.parent.glob(".steprun/downloads/*/azureml/*/metrics/metrics.json"))  # Azure ML layout
    assert len(metrics) == 1 and json.loads(metrics[0].read_text())["rows"] == 200


def test_teaching_notebook_runs_and_asserts_what_it_teaches(tmp_path_factory, tracking_uri):
    path = executed_notebook("teaching.ipynb", tmp_path_factory, tracking_uri)
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert not outputs(nb, "error")
    executed = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in executed), "every code cell ran"

    shown = _check_widget_outputs(nb)
    step_states = [s for s, _ in shown if "logs" in s]
    # the reused train step: its widget names the original run
    reused = [s for s in step_states if s["reuse"]]
    assert reused and reused[0]["name"] == "train" and reused[0]["reuse"]["run_id"] == reused[0]["run_id"]
    # the failed evaluate step: red status, the error line, the traceback in its stderr tail
    failed = [(s, h) for s, h in shown if s.get("status") == "Failed" and "logs" in s]
    assert failed, [s.get("status") for s, _ in shown]
    state, html = failed[0]
    assert state["name"] == "evaluate" and "exit code 1" in state["error"]
    assert "FileNotFoundError" in state["logs"]["stderr"]["tail"]
    assert "✖ Failed" in html and "FileNotFoundError" in html
    # the last pipeline (after the fix): every step reused
    last = [s for s, _ in shown if "graph" in s][-1]
    assert last["status"] == "Finished" and all(s["reused"] for s in last["steps"])
    assert not list((path.parent / "tmp").glob("steprun-lesson-*")), "the lesson removes its copy"
