"""The core client: Azure ML v1's StepRun API over the MLflow tracking REST API (no ``mlflow`` import)."""

from steprun_widgets.core.experiment import Experiment
from steprun_widgets.core.outputs import PortDataReference, StepRunOutput
from steprun_widgets.core.runs import PipelineRun, StepRun
from steprun_widgets.core.workspace import Workspace

__all__ = ["Workspace", "Experiment", "PipelineRun", "StepRun", "StepRunOutput", "PortDataReference"]
