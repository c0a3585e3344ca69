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

#: Azure ML v1's ``azureml.core.VERSION``, which most v1 notebooks print in their first cell.
VERSION = __version__

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
    "VERSION",
    "compare",
    "RunComparison",
    "Datastore",
    "DataReference",
    "DataPath",
    "DataPathComputeBinding",
    "Dataset",
    "FileDataset",
    "TabularDataset",
    "DatasetConsumptionConfig",
    "Model",
]

#: Azure ML v1's data and model names, loaded on first use: module -> names.
_DATA = {
    "steprun_widgets.core.datastore": ("Datastore", "DataReference", "DataPath", "DataPathComputeBinding"),
    "steprun_widgets.core.dataset": ("Dataset", "FileDataset", "TabularDataset", "DatasetConsumptionConfig"),
    "steprun_widgets.core.model": ("Model",),
}

_WIDGETS = {"StepRunWidget", "PipelineRunWidget", "RunDetails", "compare", "RunComparison"}

if TYPE_CHECKING:
    from steprun_widgets.local.context import Run
    from steprun_widgets.widgets import PipelineRunWidget, RunComparison, RunDetails, StepRunWidget, compare


def __getattr__(name: str) -> Any:
    # The widgets pull in ipywidgets/anywidget (and so IPython): load them only when asked for.
    if name in _WIDGETS:
        from steprun_widgets import widgets

        return getattr(widgets, name)
    for module, names in _DATA.items():
        if name in names:
            import importlib

            return getattr(importlib.import_module(module), name)
    if name == "Run":  # the step-side context lives in the engine (steprun_widgets.local)
        from steprun_widgets.local.context import Run

        return Run
    from steprun_widgets.core.v1_names import module_error

    error = module_error(__name__, name)  # an Azure ML v1 name: say what to do instead
    if error is not None:
        raise error
    raise AttributeError(f"module 'steprun_widgets' has no attribute {name!r}")
