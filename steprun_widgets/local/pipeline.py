"""Pipeline definitions: PipelineData, PythonScriptStep, Pipeline (the names and keywords of Azure ML v1)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steprun_widgets.core import layout
from steprun_widgets.errors import StepRunError
from steprun_widgets.local.compute import check_compute_target
from steprun_widgets.local.parameters import PipelineParameter
from steprun_widgets.local.parameters import collect as collect_parameters
from steprun_widgets.local.runconfig import map_runconfig

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
    """Data that one step writes (an output folder) and later steps read (an input folder).

    Azure ML v1's keywords map as follows (docs/migration-from-azureml-v1.md): ``datastore`` is
    the tracking server's artifact store whatever is passed; ``output_name`` names the output on
    the step run (default: ``name``); ``output_mode`` "mount" or "upload" (the script writes a
    folder, uploaded when it ends); ``is_directory`` either way (the script gets a folder path);
    ``pipeline_output_name`` promotes the output to the pipeline (``get_pipeline_output``).
    ``output_path_on_compute``, ``output_overwrite``, ``data_type`` and ``training_output`` do not
    map and are a clear error.
    """

    def __init__(self, name: str, datastore: Any = None, output_name: str | None = None,
                 output_mode: str = "mount", output_path_on_compute: str | None = None,
                 output_overwrite: bool | None = None, data_type: str | None = None,
                 is_directory: bool | None = None, pipeline_output_name: str | None = None,
                 training_output: Any = None) -> None:
        self.name = _check_name("PipelineData", name)
        self.datastore = datastore
        self.output_name = _check_name("PipelineData output_name",
                                       output_name if output_name is not None else name)
        if output_mode not in ("mount", "upload"):
            raise PipelineDefinitionError(
                f"PipelineData {name!r}: output_mode {output_mode!r} is not supported: the script "
                "writes into the folder it is given, uploaded when it ends ('mount' or 'upload')")
        self.output_mode = output_mode
        refused = {"output_path_on_compute": (output_path_on_compute, "the runner chooses the "
                                              "folder; the script reads it from its argument"),
                   "output_overwrite": (output_overwrite, "every run writes a fresh folder"),
                   "data_type": (data_type, "an output is a folder of files"),
                   "training_output": (training_output, "AutoML and HyperDrive steps do not run "
                                       "here")}
        for keyword, (value, why) in refused.items():
            if value is not None:
                raise PipelineDefinitionError(
                    f"PipelineData {name!r}: {keyword}= is not supported ({why}); leave it out")
        self.is_directory = is_directory
        self.pipeline_output_name = (None if pipeline_output_name is None else
                                     _check_name("pipeline_output_name", pipeline_output_name))
        #: The step that lists this data among its outputs (set by the step).
        self._producer: PipelineStep | None = None

    @property
    def datastore_name(self) -> str:
        return layout.DATASTORE_NAME

    def __repr__(self) -> str:
        return f"PipelineData({self.name!r})"


_ARG_TYPES = (str, int, float, os.PathLike)


class PipelineStep:
    """What every step shares: data, arguments, reuse, where it runs, and what it runs after."""

    def __init__(self, name: str, arguments: Sequence[Any] | None, inputs: Iterable[Any] | None,
                 outputs: Iterable[Any] | None, source_directory: str | os.PathLike | None,
                 allow_reuse: bool, compute_target: Any, runconfig: Any,
                 params: Mapping[str, Any] | None, version: str | None) -> None:
        self.name = _check_name("Step", name)
        self.arguments = list(arguments or ())
        self.inputs = list(inputs or ())
        self.outputs = list(outputs or ())
        self.source_directory = Path(source_directory if source_directory is not None else ".")
        self.allow_reuse = bool(allow_reuse)
        owner = f"Step {self.name!r}"
        self.compute_target = check_compute_target(compute_target, owner)
        self.runconfig = runconfig
        self.environment = map_runconfig(runconfig, owner)
        if self.compute_target is None:
            self.compute_target = self.environment.target
        # v1: ``params`` reach the script as environment variables named AML_PARAMETER_<name>.
        for key, value in dict(params or {}).items():
            if not isinstance(key, str) or isinstance(value, PipelineParameter):
                raise PipelineDefinitionError(
                    f"{owner}: params must map names to values (a PipelineParameter goes in "
                    f"arguments), got {key!r}: {value!r}")
            self.environment.environment[f"AML_PARAMETER_{key}"] = str(value)
        self.version = None if version is None else str(version)
        self._run_after: list[PipelineStep] = []
        for data in (*self.inputs, *self.outputs):
            if not isinstance(data, PipelineData):
                raise PipelineDefinitionError(
                    f"{owner}: inputs and outputs must be PipelineData, got {data!r} "
                    f"({type(data).__name__}). DataReference, DataPath and Dataset inputs do not map: "
                    "pass a path as a string argument, or produce the data with a step that writes a "
                    "PipelineData")
        for data in self.outputs:  # the latest step defined with it (a re-run notebook cell)
            data._producer = self
        declared = {id(d) for d in (*self.inputs, *self.outputs)}
        for arg in self.arguments:
            if isinstance(arg, PipelineData) and id(arg) not in declared:
                raise PipelineDefinitionError(
                    f"{owner}: argument {arg!r} is in neither its inputs nor its outputs")
            if not isinstance(arg, (*_ARG_TYPES, PipelineData, PipelineParameter)):
                raise PipelineDefinitionError(
                    f"{owner}: argument {arg!r} ({type(arg).__name__}) does not map: arguments are "
                    "strings, numbers, PipelineData and PipelineParameter. For a DataReference, "
                    "DataPath or Dataset pass its path as a string")

    @property
    def node_id(self) -> str:
        """A stable id for the step's node in the pipeline graph."""
        return hashlib.sha1(self.name.encode()).hexdigest()[:8]

    def run_after(self, step: PipelineStep) -> None:
        """Run this step only once ``step`` has finished, without data passing between them."""
        if not isinstance(step, PipelineStep):
            raise PipelineDefinitionError(f"Step {self.name!r}: run_after takes a step, got {step!r}")
        if step is self:
            raise PipelineDefinitionError(f"Step {self.name!r} cannot run after itself")
        if step not in self._run_after:
            self._run_after.append(step)

    def upstream(self) -> list[PipelineStep]:
        """Steps this one needs: producers of its inputs and the steps it runs after."""
        found = [d._producer for d in self.inputs if d._producer is not None]
        return [*found, *self._run_after]

    def check_files(self) -> None:
        """Raise PipelineDefinitionError when what the step runs is missing on disk."""
        if not self.source_directory.is_dir():
            raise PipelineDefinitionError(f"Step {self.name!r}: source_directory "
                                          f"{str(self.source_directory)!r} does not exist")

    def reuse_identity(self) -> dict[str, Any]:
        """What, beyond source, arguments and inputs, decides reuse (the command, the version...)."""
        identity: dict[str, Any] = {}
        if self.version is not None:
            identity["version"] = self.version
        if self.environment.environment:
            identity["environment"] = dict(sorted(self.environment.environment.items()))
        if self.environment.python:
            identity["python"] = self.environment.python
        return identity


class PythonScriptStep(PipelineStep):
    """A step that runs ``python <script_name> <arguments>`` in ``source_directory``.

    Each :class:`PipelineData` among ``arguments`` is replaced by its folder path: an empty folder
    to fill for an output, the producer's folder for an input; each PipelineParameter by its value
    for the run. Azure ML v1's ``compute_target``, ``runconfig``, ``params``, ``version`` and
    ``hash_paths`` map as docs/migration-from-azureml-v1.md says; ``runconfig_pipeline_params``
    does not.
    """

    # The first seven parameters keep the order code written for earlier versions relies on; v1's
    # other keywords follow (v1 puts compute_target and runconfig after arguments, but its samples
    # always pass them by name).
    def __init__(self, script_name: str, name: str | None = None, arguments: Sequence[Any] | None = (),
                 inputs: Iterable[Any] | None = (), outputs: Iterable[Any] | None = (),
                 source_directory: str | os.PathLike | None = None, allow_reuse: bool = True,
                 compute_target: Any = None, runconfig: Any = None,
                 runconfig_pipeline_params: Any = None, params: Mapping[str, Any] | None = None,
                 version: str | None = None, hash_paths: Sequence[str] | None = None) -> None:
        if not isinstance(script_name, str) or not script_name:
            raise PipelineDefinitionError(f"script_name must be a file name, got {script_name!r}")
        self.script_name = script_name
        step_name = name if name is not None else Path(script_name).stem
        if runconfig_pipeline_params:
            raise PipelineDefinitionError(
                f"Step {step_name!r}: runconfig_pipeline_params is not supported; put the "
                "PipelineParameter in the step's arguments instead")
        super().__init__(step_name, arguments, inputs, outputs, source_directory, allow_reuse,
                         compute_target, runconfig, params, version)
        # v1 hashed only hash_paths of source_directory (deprecated there); here the whole
        # source_directory always goes into the reuse key, which covers any hash_paths.
        self.hash_paths = list(hash_paths or ())

    def script_path(self) -> Path:
        return self.source_directory / self.script_name

    def check_files(self) -> None:
        super().check_files()
        if not self.script_path().is_file():
            raise PipelineDefinitionError(f"Step {self.name!r}: script {self.script_name!r} does not "
                                          f"exist in {str(self.source_directory)!r}")

    def __repr__(self) -> str:
        return f"PythonScriptStep({self.script_name!r}, name={self.name!r})"


class Pipeline:
    """Steps connected by PipelineData and ``run_after``: each runs once what it needs has finished.

    As in Azure ML v1, ``steps`` may list only the last steps: the steps they depend on (producers
    of their inputs, steps they run after) are taken in too (``resolve_closure``). ``description``
    becomes the pipeline run's MLflow description (tag ``mlflow.note.content``).
    """

    def __init__(self, workspace: Workspace, steps: Sequence[PipelineStep], description: str | None = None,
                 default_datastore_name: str | None = None, default_source_directory: Any = None,
                 resolve_closure: bool = True) -> None:
        self.workspace = workspace
        if isinstance(steps, PipelineStep):
            steps = [steps]
        if not isinstance(steps, Sequence | Iterable) or isinstance(steps, str | bytes):
            raise PipelineDefinitionError(f"Pipeline steps must be a list of steps, got {steps!r}")
        self.steps = list(steps)
        if description is not None and not isinstance(description, str):
            raise PipelineDefinitionError(f"Pipeline description must be a string, got {description!r}")
        self.description = description
        # The datastore is always the tracking server's artifact store: any name stands for it.
        self.default_datastore_name = default_datastore_name
        if resolve_closure:
            self.steps = self._closure(self.steps)
        if default_source_directory is not None:  # for steps defined without a source_directory
            for step in self.steps:
                if isinstance(step, PipelineStep) and step.source_directory == Path("."):
                    step.source_directory = Path(default_source_directory)
        self.validate()

    @staticmethod
    def _closure(steps: list) -> list:
        """The given steps, in their order, then every step they depend on that they do not list
        (producers of their inputs, steps they run after), found transitively."""
        ordered = list(dict.fromkeys(steps))  # drops a step listed twice, keeps the order
        seen = {id(s) for s in ordered}
        frontier = [s for s in ordered if isinstance(s, PipelineStep)]
        while frontier:
            found = []
            for step in frontier:
                for up in step.upstream():
                    if id(up) not in seen:
                        seen.add(id(up))
                        found.append(up)
            ordered.extend(found)
            frontier = found
        return ordered

    def validate(self) -> list:
        """Raise PipelineDefinitionError naming the step or data at fault; nothing is sent anywhere.

        Returns an empty list (Azure ML's ``validate()`` returns the errors it found; here the
        first one is raised).
        """
        if not self.steps:
            raise PipelineDefinitionError("A pipeline needs at least one step")
        names: set[str] = set()
        producers: dict[str, PipelineStep] = {}
        members = {id(s) for s in self.steps}
        for step in self.steps:
            if not isinstance(step, PipelineStep):
                raise PipelineDefinitionError(
                    f"Pipeline steps must be PythonScriptStep or CommandStep, got {step!r}")
            if step.name in names:
                raise PipelineDefinitionError(f"Two steps are named {step.name!r}; step names must differ")
            names.add(step.name)
            step.check_files()
            outputs: set[str] = set()
            for data in step.outputs:
                if data.name in producers:
                    raise PipelineDefinitionError(
                        f"PipelineData {data.name!r} is produced by two steps: "
                        f"{producers[data.name].name!r} and {step.name!r}")
                if data.output_name in outputs:
                    raise PipelineDefinitionError(
                        f"Step {step.name!r} has two outputs named {data.output_name!r}")
                outputs.add(data.output_name)
                producers[data.name] = step
            clash = sorted(outputs & {d.name for d in step.inputs})
            if clash:  # the two would share one folder name in the step's work folder
                raise PipelineDefinitionError(
                    f"Step {step.name!r}: input {clash[0]!r} and an output of the same name; give "
                    "the output another output_name")
            for other in step._run_after:
                if id(other) not in members:
                    raise PipelineDefinitionError(
                        f"Step {step.name!r} runs after {other.name!r}, which is not in the pipeline "
                        "(build it with resolve_closure=True, the default, or list that step too)")
        promoted: dict[str, str] = {}
        for step in self.steps:
            for data in step.inputs:
                if data.name not in producers:
                    raise PipelineDefinitionError(f"Step {step.name!r} consumes PipelineData {data.name!r} "
                                                  "but no step of the pipeline produces it")
                if producers[data.name] is step:
                    raise PipelineDefinitionError(f"Step {step.name!r} consumes its own output {data.name!r}")
            for data in step.outputs:
                if data.pipeline_output_name is not None:
                    if data.pipeline_output_name in promoted:
                        raise PipelineDefinitionError(
                            f"Two outputs are promoted as pipeline output {data.pipeline_output_name!r}: "
                            f"{promoted[data.pipeline_output_name]!r} and {data.name!r}")
                    promoted[data.pipeline_output_name] = data.name
        self.topological_order()
        return []

    def producers(self) -> dict[str, PipelineStep]:
        return {d.name: s for s in self.steps for d in s.outputs}

    def _dependencies(self) -> dict[str, set[str]]:
        producers = self.producers()
        return {s.name: {producers[d.name].name for d in s.inputs} | {o.name for o in s._run_after}
                for s in self.steps}

    def edges(self) -> list[tuple[str, str]]:
        """(upstream node id, downstream node id) for every data dependency and ``run_after``."""
        producers = self.producers()
        edges = {(producers[d.name].node_id, s.node_id) for s in self.steps for d in s.inputs}
        edges |= {(o.node_id, s.node_id) for s in self.steps for o in s._run_after}
        return sorted(edges)

    def edge_data(self) -> dict[tuple[str, str], list[str]]:
        """(upstream node id, downstream node id) -> names of the PipelineData that flow along it."""
        producers = self.producers()
        found: dict[tuple[str, str], list[str]] = {}
        for s in self.steps:
            for d in s.inputs:
                names = found.setdefault((producers[d.name].node_id, s.node_id), [])
                if d.name not in names:
                    names.append(d.name)
        return found

    def pipeline_outputs(self) -> dict[str, tuple[str, str]]:
        """Pipeline output name -> (node id, output name) of the step output it promotes."""
        return {d.pipeline_output_name: (s.node_id, d.output_name) for s in self.steps
                for d in s.outputs if d.pipeline_output_name is not None}

    def parameters(self) -> dict[str, PipelineParameter]:
        """Name -> PipelineParameter of every parameter the steps' arguments use."""
        return collect_parameters(s.arguments for s in self.steps)

    def topological_order(self) -> list[PipelineStep]:
        """Steps ordered so that every step comes after what it needs (stable otherwise)."""
        deps = self._dependencies()
        order: list[PipelineStep] = []
        placed: set[str] = set()
        while len(order) < len(self.steps):
            ready = [s for s in self.steps if s.name not in placed and deps[s.name] <= placed]
            if not ready:
                stuck = sorted(s.name for s in self.steps if s.name not in placed)
                raise PipelineDefinitionError(f"The pipeline has a cycle among steps {stuck}")
            order.extend(ready)
            placed.update(s.name for s in ready)
        return order

    def submit_to(self, experiment: Experiment, *, executor: Any = None,
                  pipeline_parameters: Mapping[str, Any] | None = None,
                  regenerate_outputs: bool = False, tags: Mapping[str, str] | None = None,
                  **unsupported: Any) -> PipelineRun:
        """Run this pipeline in ``experiment`` (what ``Experiment.submit`` hands off to).

        ``executor`` None runs the steps where their ``compute_target`` says (by default from a
        detached runner process); a Dask ``Client`` or a scheduler address runs them as Dask
        tasks; any other ``concurrent.futures.Executor`` runs them from a thread of this process.
        ``pipeline_parameters`` sets PipelineParameter values for this run; ``regenerate_outputs``
        runs every step again (no reuse); ``tags`` are set on the pipeline run.
        """
        from steprun_widgets.local.submit import submit_pipeline

        if unsupported:
            key = sorted(unsupported)[0]
            hint = _SUBMIT_HINTS.get(key, "it is not a keyword of submit() here")
            raise PipelineDefinitionError(f"submit(): {key}= is not supported: {hint}")
        return submit_pipeline(experiment, self, executor=executor,
                               pipeline_parameters=pipeline_parameters,
                               regenerate_outputs=regenerate_outputs, tags=tags)

    def __repr__(self) -> str:
        return f"Pipeline(steps={[s.name for s in self.steps]})"


_SUBMIT_HINTS = {
    "continue_on_step_failure": "the runner always goes on with the steps that do not depend on a "
                                "failed one, and cancels those that do",
    "credential_passthrough": "steps run as the submitting user on this machine",
    "show_output": "use pipeline_run.wait_for_completion(show_output=True)",
}
