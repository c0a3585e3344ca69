"""Pipeline definitions: PipelineData, PythonScriptStep, Pipeline (names pinned by SPEC §3)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steprun_widgets.errors import StepRunError

if TYPE_CHECKING:
    from steprun_widgets.core.experiment import Experiment
    from steprun_widgets.core.runs import PipelineRun
    from steprun_widgets.core.workspace import Workspace

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")


class PipelineDefinitionError(StepRunError):
    """A pipeline cannot run as defined (missing script, data never produced, a cycle...)."""


def _check_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        raise PipelineDefinitionError(
            f"{kind} name {name!r} is not valid: use letters, digits, '_', '-', '.' (at most 100)")
    return name


class PipelineData:
    """Data that one step writes (an output folder) and later steps read (an input folder)."""

    def __init__(self, name: str) -> None:
        self.name = _check_name("PipelineData", name)

    def __repr__(self) -> str:
        return f"PipelineData({self.name!r})"


class PythonScriptStep:
    """A step that runs ``python <script_name> <arguments>`` in ``source_directory``.

    Each :class:`PipelineData` among ``arguments`` is replaced by its folder path: an empty folder
    to fill for an output, the producer's folder for an input.
    """

    def __init__(self, script_name: str, name: str | None = None, arguments: Sequence[Any] = (),
                 inputs: Iterable[PipelineData] = (), outputs: Iterable[PipelineData] = (),
                 source_directory: str | os.PathLike | None = None, allow_reuse: bool = True) -> None:
        if not isinstance(script_name, str) or not script_name:
            raise PipelineDefinitionError(f"script_name must be a file name, got {script_name!r}")
        self.script_name = script_name
        self.name = _check_name("Step", name if name is not None else Path(script_name).stem)
        self.arguments = list(arguments)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.source_directory = Path(source_directory if source_directory is not None else ".")
        self.allow_reuse = bool(allow_reuse)
        for data in (*self.inputs, *self.outputs):
            if not isinstance(data, PipelineData):
                raise PipelineDefinitionError(
                    f"Step {self.name!r}: inputs and outputs must be PipelineData, got {data!r}")
        declared = {id(d) for d in (*self.inputs, *self.outputs)}
        for arg in self.arguments:
            if isinstance(arg, PipelineData) and id(arg) not in declared:
                raise PipelineDefinitionError(
                    f"Step {self.name!r}: argument {arg!r} is in neither its inputs nor its outputs")

    @property
    def node_id(self) -> str:
        """A stable id for the step's node in the pipeline graph."""
        return hashlib.sha1(self.name.encode()).hexdigest()[:8]

    def script_path(self) -> Path:
        return self.source_directory / self.script_name

    def __repr__(self) -> str:
        return f"PythonScriptStep({self.script_name!r}, name={self.name!r})"


class Pipeline:
    """Steps connected by PipelineData: outputs of one step feed the inputs of the next."""

    def __init__(self, workspace: Workspace, steps: Sequence[PythonScriptStep]) -> None:
        self.workspace = workspace
        self.steps = list(steps)
        self.validate()

    def validate(self) -> None:
        """Raise PipelineDefinitionError naming the step or data at fault; nothing is sent anywhere."""
        if not self.steps:
            raise PipelineDefinitionError("A pipeline needs at least one step")
        names: set[str] = set()
        producers: dict[str, PythonScriptStep] = {}
        for step in self.steps:
            if not isinstance(step, PythonScriptStep):
                raise PipelineDefinitionError(f"Pipeline steps must be PythonScriptStep, got {step!r}")
            if step.name in names:
                raise PipelineDefinitionError(f"Two steps are named {step.name!r}; step names must differ")
            names.add(step.name)
            if not step.source_directory.is_dir():
                raise PipelineDefinitionError(f"Step {step.name!r}: source_directory "
                                              f"{str(step.source_directory)!r} does not exist")
            if not step.script_path().is_file():
                raise PipelineDefinitionError(f"Step {step.name!r}: script {step.script_name!r} does not "
                                              f"exist in {str(step.source_directory)!r}")
            for data in step.outputs:
                if data.name in producers:
                    raise PipelineDefinitionError(
                        f"PipelineData {data.name!r} is produced by two steps: "
                        f"{producers[data.name].name!r} and {step.name!r}")
                producers[data.name] = step
        for step in self.steps:
            for data in step.inputs:
                if data.name not in producers:
                    raise PipelineDefinitionError(f"Step {step.name!r} consumes PipelineData {data.name!r} "
                                                  "but no step of the pipeline produces it")
                if producers[data.name] is step:
                    raise PipelineDefinitionError(f"Step {step.name!r} consumes its own output {data.name!r}")
        self.topological_order()

    def producers(self) -> dict[str, PythonScriptStep]:
        return {d.name: s for s in self.steps for d in s.outputs}

    def edges(self) -> list[tuple[str, str]]:
        """(producer node id, consumer node id) for every data dependency."""
        producers = self.producers()
        edges = {(producers[d.name].node_id, s.node_id) for s in self.steps for d in s.inputs}
        return sorted(edges)

    def topological_order(self) -> list[PythonScriptStep]:
        """Steps ordered so that every producer comes before its consumers (stable otherwise)."""
        producers = self.producers()
        deps = {s.name: {producers[d.name].name for d in s.inputs} for s in self.steps}
        order: list[PythonScriptStep] = []
        placed: set[str] = set()
        while len(order) < len(self.steps):
            ready = [s for s in self.steps if s.name not in placed and deps[s.name] <= placed]
            if not ready:
                stuck = sorted(s.name for s in self.steps if s.name not in placed)
                raise PipelineDefinitionError(f"The pipeline has a cycle among steps {stuck}")
            order.extend(ready)
            placed.update(s.name for s in ready)
        return order

    def submit_to(self, experiment: Experiment, *, executor: Any = None) -> PipelineRun:
        """Run this pipeline in ``experiment`` (what ``Experiment.submit`` hands off to).

        ``executor`` None runs the steps from a detached runner process; a Dask ``Client`` or a
        scheduler address runs them as Dask tasks; any other ``concurrent.futures.Executor`` runs
        them from a thread of this process.
        """
        from steprun_widgets.local.submit import submit_pipeline

        return submit_pipeline(experiment, self, executor=executor)

    def __repr__(self) -> str:
        return f"Pipeline(steps={[s.name for s in self.steps]})"
