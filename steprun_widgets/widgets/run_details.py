"""RunDetails: the entry point users of Azure ML v1 know — the right widget for a run."""

from __future__ import annotations

from typing import Any

from steprun_widgets.core.runs import PipelineRun, StepRun
from steprun_widgets.errors import StepRunError


class RunDetails:
    """``RunDetails(run).show()`` displays a PipelineRunWidget or a StepRunWidget for ``run``.

    ``RunDetails(run)`` as the last expression of a cell shows the same widget.
    """

    def __init__(self, run: PipelineRun | StepRun, **widget_options: Any) -> None:
        from steprun_widgets.widgets.pipeline_widget import PipelineRunWidget
        from steprun_widgets.widgets.step_widget import StepRunWidget

        if isinstance(run, PipelineRun):
            self.widget = PipelineRunWidget(run, **widget_options)
        elif isinstance(run, StepRun):
            self.widget = StepRunWidget(run, **widget_options)
        else:
            raise StepRunError(f"RunDetails needs a PipelineRun or a StepRun, got {type(run).__name__}")
        self.run = run

    def show(self) -> Any:
        """Display the widget in the current cell's output; returns the widget."""
        from IPython.display import display

        display(self.widget)
        return self.widget

    def _ipython_display_(self) -> None:
        self.widget._ipython_display_()

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"RunDetails({self.run!r})"
