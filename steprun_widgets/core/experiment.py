"""Experiment: a named group of runs on a workspace's tracking server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steprun_widgets.core import submission
from steprun_widgets.core.v1_names import V1Members
from steprun_widgets.core.workspace import Workspace
from steprun_widgets.errors import RunNotFoundError, StepRunError

if TYPE_CHECKING:
    from steprun_widgets.core.runs import PipelineRun


class Experiment(metaclass=V1Members):
    """An MLflow experiment, looked up by name; ``submit`` runs a pipeline in it."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise StepRunError(f"Experiment name must be a non-empty string, got {name!r}")
        self.workspace = workspace
        self.name = name
        self._id: str | None = None

    @property
    def id(self) -> str:
        """The experiment id on the server (looked up once); RunNotFoundError if it does not exist."""
        if self._id is None:
            found = self.workspace.rest.get_experiment_by_name(self.name)
            if found is None:
                raise RunNotFoundError(f"Experiment {self.name!r} was not found on "
                                       f"{self.workspace.transport.place}")
            self._id = str(found["experiment_id"])
        return self._id

    def ensure(self) -> str:
        """The experiment id, creating the experiment when it does not exist yet."""
        if self._id is None:
            self._id = self.workspace.rest.get_or_create_experiment(self.name)
        return self._id

    def submit(self, config: Any, **kwargs: Any) -> PipelineRun:
        """Submit ``config`` (a ``steprun_widgets.local.Pipeline``, or anything with
        ``submit_to(experiment, **kwargs)``); returns its PipelineRun at once.

        Keyword arguments go to the config's own submit function (for a local Pipeline:
        ``executor=``, a ``concurrent.futures.Executor`` or a Dask client / scheduler address).
        """
        return submission.submit(self, config, **kwargs)

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, workspace={self.workspace!r})"
