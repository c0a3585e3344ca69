"""Pipeline definitions: PipelineData, PythonScriptStep, Pipeline (the names and keywords of Azure ML v1)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steprun_widgets.core import layout
from steprun_widgets.core.v1_names import V1Members
from steprun_widgets.errors import StepRunError, shown
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


def _check_step_name(name: Any) -> str:
    """A step name as Azure ML v1 allows it: any printable text (spaces too, "Cleanse Green Taxi
    Data"), at most 100 characters, no '/' or '\\'. It is shown as given; its work folder gets a
    safe form of it."""
    if (not isinstance(name, str) or not name.strip() or name != name.strip() or len(name) > 100
            or "/" in name or "\\" in name or not name.isprintable()):
        raise PipelineDefinitionError(
            f"Step name {shown(name)} is not valid: use printable text without '/' or '\\', "
            "at most 100 characters, not starting or ending with a space")
    return name


def _check_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        raise PipelineDefinitionError(
            f"{kind} name {shown(name)} is not valid: use letters, digits, '_', '-', '.' (at most 100)")
    return name


class PipelineData(metaclass=V1Members):
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
                f"PipelineData {shown(name)}: output_mode {output_mode!r} is not supported: the script "
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
                    f"PipelineData {shown(name)}: {keyword}= is not supported ({why}); leave it out")
        self.is_directory = is_directory
        self.pipeline_output_name = (None if pipeline_output_name is None else
                                     _check_name("pipeline_output_name", pipeline_output_name))
        #: The step that lists this data among its outputs (set by the step).
        self._producer: PipelineStep | None = None

    @property
    def datastore_name(self) -> str:
        return layout.DATASTORE_NAME

    # --- read by a later step as a dataset (v1's azureml-dataset-runtime additions) ---------------
    def as_dataset(self):
        """This output, read by a later step as a FileDataset (``input_datasets[name]`` is its folder)."""
        from steprun_widgets.local.step_data import PipelineOutputDataset

        return PipelineOutputDataset(self)

    def as_input(self, name: str | None = None):
        return self.as_dataset().as_input(name)

    def as_mount(self):
        return self.as_dataset().as_mount()

    def as_download(self, input_name: str | None = None, path_on_compute: str | None = None,
                    overwrite: bool | None = None):
        return self.as_dataset().as_download().as_input(input_name)

    def parse_delimited_files(self, include_path: bool = False, separator: str = ",", header: Any = True,
                              partition_format: str | None = None, file_extension: str = "",
                              set_column_types: Any = None, quoted_line_breaks: bool = False):
        """This output, read by a later step as a TabularDataset of its delimited files."""
        return self.as_dataset().parse_delimited_files(separator=separator, header=header)

    def parse_parquet_files(self, include_path: bool = False, partition_format: str | None = None,
                            file_extension: str = ".parquet", set_column_types: Any = None):
        """This output, read by a later step as a TabularDataset of its parquet files."""
        return self.as_dataset().parse_parquet_files()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({shown(self.name)})"


class OutputFileDatasetConfig(PipelineData):
    """A step output (v1's ``OutputFileDatasetConfig``): a folder the script writes, uploaded when
    it ends as the step run's output ``name``, readable by later steps (``as_input``,
    ``read_delimited_files``...) and, with ``register_on_complete``, registered as a dataset.

    ``destination=(datastore, path)`` also copies the files into that datastore path
    (``{run-id}`` and ``{output-name}`` are replaced); ``source`` and ``partition_format`` do not map.
    """

    _v1_class = "PipelineData"

    def __init__(self, name: str | None = None, destination: Any = None, source: str | None = None,
                 partition_format: str | None = None) -> None:
        from steprun_widgets.core.datastore import Datastore, clean_path
        from steprun_widgets.local.step_data import new_output_name

        super().__init__(name or new_output_name())
        if source is not None or partition_format is not None:
            raise PipelineDefinitionError(
                f"OutputFileDatasetConfig {self.name!r}: source= and partition_format= are not supported: "
                "the script writes into the folder it is given")
        self.destination = None
        if destination is not None:
            if not (isinstance(destination, tuple) and len(destination) == 2
                    and isinstance(destination[0], Datastore)):
                raise PipelineDefinitionError(
                    f"OutputFileDatasetConfig {self.name!r}: destination must be (datastore, 'path'), got "
                    f"{destination!r}")
            self.destination = (destination[0].name, clean_path(destination[1], "destination path"))
        #: ``register_on_complete``: the dataset to register once the producing step finishes.
        self._registration: dict | None = None

    def as_upload(self, overwrite: bool = False, source_globs: Any = None) -> OutputFileDatasetConfig:
        """The script's folder is uploaded when it ends (the only way here)."""
        return self

    def as_mount(self, disable_metadata_cache: bool = False) -> OutputFileDatasetConfig:  # type: ignore[override]
        """Output mode "mount": the script writes into a local folder, uploaded when it ends."""
        return self

    def read_delimited_files(self, include_path: bool = False, separator: str = ",", header: Any = True,
                             partition_format: str | None = None, path_glob: str | None = None,
                             set_column_types: Any = None):
        return self.parse_delimited_files(separator=separator, header=header)

    def read_parquet_files(self, include_path: bool = False, partition_format: str | None = None,
                           path_glob: str | None = None, set_column_types: Any = None):
        return self.parse_parquet_files()

    def register_on_complete(self, name: str, description: str | None = None,
                             tags: dict[str, str] | None = None) -> OutputFileDatasetConfig:
        """Register this output as the FileDataset ``name`` when its step finishes."""
        self.as_dataset().register_on_complete(name, description, tags)
        return self


_ARG_TYPES = (str, int, float, os.PathLike)


class PipelineStep:
    """What every step shares: data, arguments, reuse, where it runs, and what it runs after."""

    def __init__(self, name: str, arguments: Sequence[Any] | None, inputs: Iterable[Any] | None,
                 outputs: Iterable[Any] | None, source_directory: str | os.PathLike | None,
                 allow_reuse: bool, compute_target: Any, runconfig: Any,
                 params: Mapping[str, Any] | None, version: str | None) -> None:
        self.name = _check_step_name(name)
        self.arguments = list(arguments or ())
        self.inputs = list(inputs or ())
        self.outputs = list(outputs or ())
        self.source_directory = Path(source_directory if source_directory is not None else ".")
        self.allow_reuse = bool(allow_reuse)
        owner = f"Step {shown(self.name)}"
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
        #: Datastore references and datasets the step reads (``step_data.data_input`` forms).
        self.data_inputs: list[Any] = []
        given_inputs, self.inputs = self.inputs, []
        outputs, self.outputs = self.outputs, []
        for data in outputs:
            data = getattr(data, "data", data)  # OutputFileDatasetConfig.read_delimited_files()...
            if not isinstance(data, PipelineData):
                raise PipelineDefinitionError(
                    f"{owner}: outputs must be PipelineData or OutputFileDatasetConfig, got {data!r} "
                    f"({type(data).__name__})")
            self._add_unique(self.outputs, data)
        for item in given_inputs:
            self._add_input(item, owner)
        for data in self.outputs:  # the latest step defined with it (a re-run notebook cell)
            data._producer = self
        declared = {id(d) for d in (*self.inputs, *self.outputs)}
        for arg in self.arguments:
            if isinstance(arg, OutputFileDatasetConfig) and id(arg) not in declared:
                # v1 takes an OutputFileDatasetConfig among arguments only as this step's output
                # when no earlier step produces it
                if arg._producer is None or arg._producer is self:
                    self._add_unique(self.outputs, arg)
                    arg._producer = self
                else:
                    self._add_input(arg, owner)
                declared.add(id(arg))
                continue
            wrapped = getattr(arg, "data", None)
            if isinstance(wrapped, OutputFileDatasetConfig) and id(wrapped) not in declared \
                    and wrapped._producer is None:  # out.read_delimited_files() as the producer's argument
                self._add_unique(self.outputs, wrapped)
                wrapped._producer = self
                declared.add(id(wrapped))
                continue
            if isinstance(arg, PipelineData) and id(arg) not in declared:
                raise PipelineDefinitionError(
                    f"{owner}: argument {arg!r} is in neither its inputs nor its outputs")
            if isinstance(arg, (*_ARG_TYPES, PipelineData, PipelineParameter)):
                continue
            found = self._data_input(arg, owner)
            if found is None:
                raise PipelineDefinitionError(
                    f"{owner}: argument {arg!r} ({type(arg).__name__}) does not map: arguments are "
                    "strings, numbers, PipelineData, PipelineParameter, datastore references and "
                    "datasets")
            if found.input_name not in {d.input_name for d in self.data_inputs}:
                self._add_input(arg, owner)
        names = [d.name for d in self.inputs] + [d.input_name for d in self.data_inputs]
        twice = sorted({n for n in names if names.count(n) > 1} - {d.name for d in self.inputs})
        if twice:
            raise PipelineDefinitionError(f"{owner}: two inputs are named {twice[0]!r}; give them "
                                          "different names (as_named_input, data_reference_name)")

    @staticmethod
    def _add_unique(found: list, data: Any) -> None:
        if not any(d is data for d in found):
            found.append(data)

    @staticmethod
    def _data_input(item: Any, owner: str) -> Any:
        from steprun_widgets.local.step_data import data_input

        try:
            return data_input(item)
        except StepRunError as exc:
            raise PipelineDefinitionError(f"{owner}: {exc}") from None

    def _add_input(self, item: Any, owner: str) -> None:
        if isinstance(item, PipelineData):
            self._add_unique(self.inputs, item)
            return
        found = self._data_input(item, owner)
        if found is None:
            raise PipelineDefinitionError(
                f"{owner}: inputs must be PipelineData, datastore references (DataReference, "
                "datastore.path(...), (DataPath, DataPathComputeBinding)) or datasets "
                f"(dataset.as_named_input(name)), got {item!r} ({type(item).__name__})")
        if hasattr(found, "data"):  # another step's output read as a dataset: it needs that step
            self._add_unique(self.inputs, found.data)
        if found.input_name not in {d.input_name for d in self.data_inputs}:
            self.data_inputs.append(found)

    def argument_key(self, arg: Any) -> str | None:
        """The folder key a data argument stands for in the plan (None for a plain value)."""
        if isinstance(arg, PipelineData):
            return arg.output_name if any(arg is d for d in self.outputs) else arg.name
        wrapped = getattr(arg, "data", None)
        if isinstance(wrapped, PipelineData) and any(wrapped is d for d in self.outputs):
            return wrapped.output_name
        found = None if isinstance(arg, (*_ARG_TYPES, PipelineParameter)) else self._data_input(arg, "")
        return found.input_name if found is not None else None

    @property
    def node_id(self) -> str:
        """A stable id for the step's node in the pipeline graph."""
        return hashlib.sha1(self.name.encode()).hexdigest()[:8]

    def run_after(self, step: PipelineStep) -> None:
        """Run this step only once ``step`` has finished, without data passing between them."""
        if not isinstance(step, PipelineStep):
            raise PipelineDefinitionError(f"Step {shown(self.name)}: run_after takes a step, "
                                          f"got {shown(step)}")
        if step is self:
            raise PipelineDefinitionError(f"Step {shown(self.name)} cannot run after itself")
        if step not in self._run_after:
            self._run_after.append(step)

    def upstream(self) -> list[PipelineStep]:
        """Steps this one needs: producers of its inputs and the steps it runs after."""
        found = [d._producer for d in self.inputs if d._producer is not None]
        return [*found, *self._run_after]

    def check_files(self) -> None:
        """Raise PipelineDefinitionError when what the step runs is missing on disk."""
        if not self.source_directory.is_dir():
            raise PipelineDefinitionError(f"Step {shown(self.name)}: source_directory "
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
            raise PipelineDefinitionError(f"script_name must be a file name, got {shown(script_name)}")
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
            raise PipelineDefinitionError(f"Step {shown(self.name)}: script {self.script_name!r} does not "
                                          f"exist in {str(self.source_directory)!r}")

    def __repr__(self) -> str:
        return f"PythonScriptStep({self.script_name!r}, name={shown(self.name)})"


class Pipeline(metaclass=V1Members):
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
            raise PipelineDefinitionError(f"Pipeline steps must be a list of steps, got {shown(steps)}")
        self.steps = list(steps)
        if description is not None and not isinstance(description, str):
            raise PipelineDefinitionError(f"Pipeline description must be a string, got {shown(description)}")
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
                    f"Pipeline steps must be PythonScriptStep or CommandStep, got {shown(step)}")
            if step.name in names:
                raise PipelineDefinitionError(f"Two steps are named {shown(step.name)}; "
                                              "step names must differ")
            names.add(step.name)
            step.check_files()
            outputs: set[str] = set()
            for data in step.outputs:
                if data.name in producers:
                    raise PipelineDefinitionError(
                        f"PipelineData {shown(data.name)} is produced by two steps: "
                        f"{producers[data.name].name!r} and {shown(step.name)}")
                if data.output_name in outputs:
                    raise PipelineDefinitionError(
                        f"Step {shown(step.name)} has two outputs named {data.output_name!r}")
                outputs.add(data.output_name)
                producers[data.name] = step
            clash = sorted(outputs & {d.name for d in step.inputs})
            if clash:  # the two would share one folder name in the step's work folder
                raise PipelineDefinitionError(
                    f"Step {shown(step.name)}: input {clash[0]!r} and an output of the same name; give "
                    "the output another output_name")
            for other in step._run_after:
                if id(other) not in members:
                    raise PipelineDefinitionError(
                        f"Step {shown(step.name)} runs after {other.name!r}, which is not in the pipeline "
                        "(build it with resolve_closure=True, the default, or list that step too)")
        promoted: dict[str, str] = {}
        for step in self.steps:
            for data in step.inputs:
                if data.name not in producers:
                    raise PipelineDefinitionError(f"Step {shown(step.name)} consumes PipelineData "
                                                  f"{shown(data.name)} but no step of the pipeline "
                                                  "produces it")
                if producers[data.name] is step:
                    raise PipelineDefinitionError(f"Step {shown(step.name)} consumes its own output "
                                                  f"{shown(data.name)}")
            for data in step.outputs:
                if data.pipeline_output_name is not None:
                    if data.pipeline_output_name in promoted:
                        raise PipelineDefinitionError(
                            f"Two outputs are promoted as pipeline output {data.pipeline_output_name!r}: "
                            f"{promoted[data.pipeline_output_name]!r} and {shown(data.name)}")
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
        run = submit_pipeline(experiment, self, executor=executor,
                              pipeline_parameters=pipeline_parameters,
                              regenerate_outputs=regenerate_outputs, tags=tags)
        run._submitted_pipeline = self  # for pipeline_run.publish_pipeline(...) in this process
        return run

    def publish(self, name: str | None = None, description: str | None = None, version: str | None = None,
                continue_on_step_failure: bool | None = None) -> Any:
        """Store this pipeline on the workspace's tracking server as a PublishedPipeline.

        The definition (steps, arguments, data, PipelineParameters and their defaults, what each
        runconfig maps to, ``allow_reuse``) and each step's ``source_directory`` (a content-addressed
        snapshot, stored once per digest, honouring ``.amlignore`` else ``.gitignore``; refused
        above ``STEPRUN_SNAPSHOT_MAX_MB``, 300 MB by default) go to the experiment
        ``steprun.published-pipelines``, where every client of the server finds them
        (``PublishedPipeline.get/list``). See docs/publishing.md.
        """
        from steprun_widgets.local.publish import publish_pipeline

        return publish_pipeline(self, name, description, version, continue_on_step_failure)

    def explain_reuse(self, experiment: Experiment, *,
                      pipeline_parameters: Mapping[str, Any] | None = None,
                      regenerate_outputs: bool = False) -> dict[str, str]:
        """``{step name: why it would run or be reused}`` if submitted to ``experiment`` now: a dry
        run that creates nothing. After submitting, ``PipelineRun.explain_reuse()`` gives the same
        sentences (unless another run of the experiment finished in between)."""
        from steprun_widgets.local.reuse_key import dry_run

        return dry_run(experiment, self, pipeline_parameters=pipeline_parameters,
                       regenerate_outputs=regenerate_outputs)

    def __repr__(self) -> str:
        return f"Pipeline(steps={[s.name for s in self.steps]})"


_SUBMIT_HINTS = {
    "continue_on_step_failure": "the runner always goes on with the steps that do not depend on a "
                                "failed one, and cancels those that do",
    "credential_passthrough": "steps run as the submitting user on this machine",
    "show_output": "use pipeline_run.wait_for_completion(show_output=True)",
    "pipeline_version": "versions belong to pipeline endpoints: PipelineEndpoint.get(workspace, "
                        "name=...).submit(experiment_name, pipeline_version=...)",
}
