"""The notebook widgets: StepRunWidget, PipelineRunWidget and RunDetails (anywidget)."""

from steprun_widgets.widgets.compare_widget import RunComparison, compare
from steprun_widgets.widgets.pipeline_widget import PipelineRunWidget
from steprun_widgets.widgets.run_details import RunDetails
from steprun_widgets.widgets.step_widget import StepRunWidget

__all__ = ["StepRunWidget", "PipelineRunWidget", "RunDetails", "RunComparison", "compare"]
