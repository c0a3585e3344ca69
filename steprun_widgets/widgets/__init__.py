"""The notebook widgets: StepRunWidget, PipelineRunWidget and RunDetails (anywidget)."""

from steprun_widgets.widgets.step_widget import StepRunWidget

__all__ = ["StepRunWidget"]
