"""Benchmark: the frontend code a saved notebook holds, 1 PipelineRunWidget + 10 StepRunWidgets.

A notebook showing a finished ten-step pipeline's widget and each step's widget is executed with
nbclient (which stores the widget state, as nbconvert --execute does). Ours: one model per bundle
carries the code, the others hold the loader (steprun_widgets/widgets/frontend.py). Today's way
beside it: the same saved file with every model holding the whole bundle in ``_esm`` and ``_css``,
as anywidget stored it before (each model's own copy). Goal: at most 5 kB of frontend
code per additional widget.
"""

from __future__ import annotations

import json

import pytest

from steprun_widgets import Experiment, Workspace
from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PythonScriptStep
from steprun_widgets.widgets.frontend import Bundle
from tests.bench.report import publish, table
from tests.browser.lab import write_notebook
from tests.notebooks.helpers import WIDGET_STATE, execute

STEPS = 10
GOAL = 5000


def _bytes(value) -> int:
    """Bytes of a value as nbformat writes it (indent 1, UTF-8)."""
    return len(json.dumps(value, indent=1, ensure_ascii=False).encode("utf-8"))


def _file_bytes(nb: dict) -> int:
    return len((json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))


def _code(models: list[dict]) -> list[int]:
    return [_bytes(m["state"].get("_esm", "")) + _bytes(m["state"].get("_css", "")) for m in models]


@pytest.mark.bench
def test_bench_saved_frontend_code(tracking_uri, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "step.py").write_text("import sys\nprint('step', sys.argv[1])\n", encoding="utf-8")
    ws = Workspace(tracking_uri)
    steps = [PythonScriptStep("step.py", name=f"s{i:02d}", arguments=[str(i)], source_directory=src,
                              allow_reuse=False) for i in range(STEPS)]
    run = Experiment(ws, "bench-saved-frontend").submit(Pipeline(ws, steps))
    assert run.wait_for_completion(show_output=False, timeout_seconds=300) == layout.FINISHED
    ws.transport.close()

    path = write_notebook(tmp_path / "saved.ipynb", [
        "from IPython.display import display\n"
        "from steprun_widgets import Experiment, PipelineRun, PipelineRunWidget, StepRunWidget, Workspace\n"
        f"run = PipelineRun(Experiment(Workspace(), 'bench-saved-frontend'), {run.id!r})",
        "PipelineRunWidget(run)",
        "for step in sorted(run.get_steps(), key=lambda s: s.name):\n    display(StepRunWidget(step))",
    ])
    execute(path, tracking_uri)
    nb = json.loads(path.read_text(encoding="utf-8"))
    state = nb["metadata"]["widgets"][WIDGET_STATE]["state"]
    ours = [m for m in state.values() if m.get("model_module") == "anywidget"]
    assert len(ours) == STEPS + 1
    total = _file_bytes(nb)

    # Today's way: every model its own copy of its bundle.
    bundles = {"pipeline": Bundle("pipeline_widget"), "step": Bundle("step_widget")}
    today_nb = json.loads(json.dumps(nb))
    today_models = [m for m in today_nb["metadata"]["widgets"][WIDGET_STATE]["state"].values()
                    if m.get("model_module") == "anywidget"]
    for model in today_models:
        bundle = bundles["pipeline" if "graph" in model["state"] else "step"]
        model["state"]["_esm"], model["state"]["_css"] = bundle.js, bundle.css
    today_total = _file_bytes(today_nb)

    code, today_code = _code(ours), _code(today_models)
    carriers = [c for c in code if c > GOAL]
    others = [c for c in code if c <= GOAL]
    per_widget = max(others)
    today_per_step = max(c for m, c in zip(today_models, today_code, strict=True)
                         if "graph" not in m["state"])

    def kb(n: float) -> str:
        return f"{n / 1000:.1f} kB"

    rows = [
        ["saved notebook (1 pipeline + 10 step widgets)", kb(total), kb(today_total),
         f"{today_total / total:.1f}x"],
        ["  frontend code in the widget state", kb(sum(code)), kb(sum(today_code)),
         f"{sum(today_code) / sum(code):.1f}x"],
        ["  frontend code per additional widget (largest)", kb(per_widget), kb(today_per_step),
         f"{today_per_step / per_widget:.0f}x"],
    ]
    publish("saved_frontend", "\n".join([
        "nbclient-executed notebook, widget state stored: ours (one model per bundle carries the code, "
        "the others a loader) beside today's way (each model its own copy)",
        table(["what", "ours", "today", "today / ours"], rows),
        f"models carrying the code: {len(carriers)} (one per bundle); loaders: {len(others)}; "
        f"goal: at most {GOAL / 1000:.0f} kB per additional widget",
    ]))
    assert len(carriers) == 2
    assert per_widget <= GOAL
