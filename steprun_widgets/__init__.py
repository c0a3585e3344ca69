"""steprun-widgets: watch and use the steps of an ML pipeline run from a notebook.

The core client (``Workspace``, ``Experiment``, ``PipelineRun``, ``StepRun``...) speaks the MLflow
tracking REST API; the widgets are imported on first use so that ``import steprun_widgets`` stays
fast and never imports ``mlflow``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steprun_widgets._version import __version__ as __version__
from steprun_widgets.core import (
    Experiment,
    PipelineRun,
    PortDataReference,
    StepRun,
    StepRunOutput,
    Workspace,
)

__all__ = [
    "Workspace",
    "Experiment",
    "PipelineRun",
    "StepRun",
    "StepRunOutput",
    "PortDataReference",
    "StepRunWidget",
    "PipelineRunWidget",
    "RunDetails",
    "Run",
]

_WIDGETS = {"StepRunWidget", "PipelineRunWidget", "RunDetails"}

if TYPE_CHECKING:
    from steprun_widgets.local.context import Run
    from steprun_widgets.widgets import PipelineRunWidget, RunDetails, StepRunWidget


def __getattr__(name: str) -> Any:
    # The widgets pull in ipywidgets/anywidget (and so IPython): load them only when asked for.
    if name in _WIDGETS:
        from steprun_widgets import widgets

        return getattr(widgets, name)
    if name == "Run":  # the step-side context lives in the engine (steprun_widgets.local)
        from steprun_widgets.local.context import Run

        return Run
    raise AttributeError(f"module 'steprun_widgets' has no attribute {name!r}")
