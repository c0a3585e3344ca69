"""How a submittable thing is submitted into an experiment (the core side of ``Experiment.submit``).

Azure ML's ``Experiment.submit(config)`` hands off to the config's own submit function; here the
same hand-off is a small protocol. The core client defines it and never knows who implements it,
so it stays usable without the embedded engine: ``steprun_widgets.local.Pipeline`` implements it,
and so can any other engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from steprun_widgets.errors import StepRunError

if TYPE_CHECKING:
    from steprun_widgets.core.experiment import Experiment
    from steprun_widgets.core.runs import PipelineRun


@runtime_checkable
class Submittable(Protocol):
    """Something ``Experiment.submit`` can run: it knows how to submit itself into an experiment."""

    def submit_to(self, experiment: Experiment, **kwargs: Any) -> PipelineRun:
        """Start a run of this thing in ``experiment`` and return its PipelineRun at once."""
        ...


def submit(experiment: Experiment, config: Any, **kwargs: Any) -> PipelineRun:
    """Hand ``config`` to its own submit function; a clear error when it has none."""
    if not isinstance(config, Submittable):
        raise StepRunError(
            f"Experiment {experiment.name!r}: submit() takes a pipeline that knows how to submit "
            f"itself (such as steprun_widgets.local.Pipeline), got {config!r}")
    return config.submit_to(experiment, **kwargs)
