"""The sample pipeline: prep → train → evaluate, with data flowing between the steps.

Each step has its own source folder, so editing one script re-runs that step and the steps
downstream of it while the others are reused. Used by ``notebooks/quickstart.py``, the widget
notebook and the tests::

    from sample_pipeline import build_pipeline
    pipeline = build_pipeline(workspace)
"""

from __future__ import annotations

import os
from pathlib import Path

from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep

HERE = Path(__file__).resolve().parent
#: Step name -> output names, in order (the names the quickstart and the tests look for).
STEPS = {"prep": ["dataset"], "train": ["model"], "evaluate": ["metrics"]}


def build_pipeline(workspace, root: str | os.PathLike | None = None, rows: int = 200) -> Pipeline:
    """The three-step sample pipeline; ``root`` is a copy of this folder (default: this folder)."""
    root = Path(root) if root is not None else HERE
    dataset, model, metrics = PipelineData("dataset"), PipelineData("model"), PipelineData("metrics")
    prep = PythonScriptStep("prep.py", name="prep", arguments=[dataset, str(rows)], outputs=[dataset],
                            source_directory=root / "prep")
    train = PythonScriptStep("train.py", name="train", arguments=[dataset, model], inputs=[dataset],
                             outputs=[model], source_directory=root / "train")
    evaluate = PythonScriptStep("evaluate.py", name="evaluate", arguments=[dataset, model, metrics],
                                inputs=[dataset, model], outputs=[metrics],
                                source_directory=root / "evaluate")
    return Pipeline(workspace, [prep, train, evaluate])
