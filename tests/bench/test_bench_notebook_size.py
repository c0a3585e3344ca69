"""Benchmark: size on disk of notebooks/quickstart.ipynb executed with its widget state saved.

The notebook is executed once per session with nbclient (``store_widget_state=True``, as Jupyter
saves it) against the session's MLflow server; the notebook test looks at the same file. The
table splits the file into what the widget state holds (the frontend code anywidget keeps in the
models' ``_esm`` and ``_css``: whole in one model per bundle, a small loader in the others; the
log tails; the rest) and the cell outputs, beside
the same notebook without widget state. Bar: at most 2 MB.
"""

from __future__ import annotations

import json

import pytest

from tests.bench.report import publish, table
from tests.notebooks.helpers import WIDGET_STATE, executed_notebook

BAR = 2 * 1000 * 1000


def _size(value) -> int:
    return len(json.dumps(value, indent=1, ensure_ascii=False).encode("utf-8"))


@pytest.mark.bench
def test_bench_executed_quickstart_size(tmp_path_factory, tracking_uri):
    path = executed_notebook("quickstart.ipynb", tmp_path_factory, tracking_uri)
    total = path.stat().st_size
    nb = json.loads(path.read_text(encoding="utf-8"))
    state = nb["metadata"]["widgets"][WIDGET_STATE]["state"]
    ours = {k: v for k, v in state.items() if v.get("model_module") == "anywidget"}
    code = sum(_size(v["state"].get(k, "")) for v in ours.values() for k in ("_esm", "_css"))
    logs = sum(_size(v["state"].get("logs", {})) for v in ours.values())
    widget_state = _size(nb["metadata"]["widgets"])
    outputs = sum(_size(c.get("outputs", [])) for c in nb["cells"])
    without = dict(nb, metadata={k: v for k, v in nb["metadata"].items() if k != "widgets"})
    without_size = len((json.dumps(without, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    kinds = {"pipeline": sum("graph" in v["state"] for v in ours.values()),
             "step": sum("logs" in v["state"] for v in ours.values())}

    def kb(n: int) -> str:
        return f"{n / 1000:.1f} kB"

    def share(n: int) -> str:
        return f"{n / total:.0%}"

    rows = [
        ["executed notebook, with widget state", kb(total), "100%"],
        ["  widget state (notebook metadata)", kb(widget_state), share(widget_state)],
        ["    frontend code (_esm, _css) of our models", kb(code), share(code)],
        ["    log tails (logs trait)", kb(logs), share(logs)],
        ["  cell outputs (incl. static snapshots)", kb(outputs), share(outputs)],
        ["same notebook without widget state", kb(without_size), share(without_size)],
    ]
    publish("notebook_size", "\n".join([
        f"notebooks/quickstart.ipynb executed with nbclient, widget state saved; bar 2 MB ({BAR} bytes)",
        table(["what", "size", "of the file"], rows),
        f"{total} bytes = {total / BAR:.0%} of the bar; with state / without = {total / without_size:.1f}x",
        f"widget models: {len(state)} ({kinds['pipeline']} PipelineRunWidget, {kinds['step']} StepRunWidget, "
        f"{len(state) - len(ours)} ipywidgets: their layouts and the download's progress bar); one of our "
        "models per bundle carries the frontend code, the others a small loader",
    ]))
    assert total <= BAR
