"""A pipeline's definition as published: plain JSON data, and the Pipeline rebuilt from it.

What is kept of each step: its kind (a PythonScriptStep, a CommandStep or a ParallelRunStep, whose
ParallelRunConfig settings and inputs as given are kept too), name, script or command,
arguments (text, ``{"data": name}`` for a PipelineData, ``{"parameter": name}`` for a
PipelineParameter), inputs and outputs, ``run_after``, ``allow_reuse``, ``version``, what its run
configuration mapped to (environment variables, incl. ``params``' ``AML_PARAMETER_*``; the
Python interpreter; the packages to check), its compute target when a name, and the digest of its
source snapshot (``source_snapshot``). The pipeline keeps its PipelineParameters with their
defaults, its PipelineData (``output_name``, ``pipeline_output_name``, ``output_mode``) and its
description.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from steprun_widgets.local.command_step import CommandStep
from steprun_widgets.local.parallel_run_step import ParallelRunConfig, ParallelRunStep
from steprun_widgets.local.parameters import PipelineParameter
from steprun_widgets.local.pipeline import (
    Pipeline,
    PipelineData,
    PipelineDefinitionError,
    PipelineStep,
    PythonScriptStep,
)
from steprun_widgets.local.runconfig import StepEnvironment

#: The definition's format; a definition of a later format is refused with a clear error.
FORMAT = 1


def _argument(arg: Any) -> Any:
    if isinstance(arg, PipelineData):
        return {"data": arg.name}
    if isinstance(arg, PipelineParameter):
        return {"parameter": arg.name}
    return os.fspath(arg) if isinstance(arg, os.PathLike) else str(arg)


def encode(pipeline: Pipeline, digests: dict[str, str]) -> dict:
    """The definition of ``pipeline``; ``digests`` maps each step name to its source snapshot's digest."""
    data: dict[str, dict] = {}
    steps = []
    for step in pipeline.topological_order():
        for d in (*step.inputs, *step.outputs):
            data.setdefault(d.name, {"output_name": d.output_name, "output_mode": d.output_mode,
                                     "pipeline_output_name": d.pipeline_output_name,
                                     "is_directory": d.is_directory})
        target = step.compute_target
        if target is not None and not isinstance(target, str):
            raise PipelineDefinitionError(
                f"Step {step.name!r}: its compute_target {target!r} is an object of this process; a "
                "published pipeline runs elsewhere: register it with register_compute(name, client) "
                "where it is submitted and give the step compute_target=name")
        env = step.environment
        entry: dict[str, Any] = {
            "name": step.name, "inputs": [d.name for d in step.inputs],
            "outputs": [d.name for d in step.outputs], "run_after": [o.name for o in step._run_after],
            "allow_reuse": step.allow_reuse, "version": step.version, "compute_target": target,
            "source": digests[step.name], "source_directory": str(step.source_directory),
            "environment": {"variables": dict(env.environment), "python": env.python,
                            "packages": list(env.packages), "pins": dict(env.pins),
                            "python_version": env.python_version},
        }
        if isinstance(step, ParallelRunStep):
            given = step._given
            entry.update(kind="parallel", settings=step.parallel_run_config.settings(),
                         parallel_inputs=[_argument(a) for a in given["inputs"]],
                         parallel_output=None if given["output"] is None else given["output"].name,
                         side_inputs=[d.name for d in given["side_inputs"]],
                         arguments=[_argument(a) for a in given["arguments"]])
        elif isinstance(step, PythonScriptStep):
            entry.update(kind="python", script_name=step.script_name,
                         arguments=[_argument(a) for a in step.arguments])
        elif isinstance(step, CommandStep):
            entry.update(kind="command", command=step.command,
                         arguments=[_argument(a) for a in step.arguments])
        else:
            raise PipelineDefinitionError(f"Step {step.name!r} ({type(step).__name__}) cannot be "
                                          "published: only PythonScriptStep and CommandStep can")
        steps.append(entry)
    parameters = {name: p.default_value for name, p in pipeline.parameters().items()}
    return {"format": FORMAT, "description": pipeline.description, "parameters": parameters,
            "data": data, "steps": steps}


def decode(definition: dict, workspace: Any, source_of: Callable[[str], Path]) -> Pipeline:
    """The Pipeline a definition describes; ``source_of(digest)`` gives the folder of a snapshot."""
    if not isinstance(definition, dict) or definition.get("format") != FORMAT:
        found = definition.get("format") if isinstance(definition, dict) else None
        raise PipelineDefinitionError(
            f"The published definition has format {found!r}; this version of steprun-widgets reads "
            f"format {FORMAT}: upgrade steprun-widgets")
    parameters = {name: PipelineParameter(name, default)
                  for name, default in definition["parameters"].items()}
    data = {name: PipelineData(name, output_name=d["output_name"], output_mode=d["output_mode"],
                               pipeline_output_name=d["pipeline_output_name"],
                               is_directory=d.get("is_directory"))
            for name, d in definition["data"].items()}

    def arg(item: Any) -> Any:
        if isinstance(item, dict) and "data" in item:
            return data[item["data"]]
        if isinstance(item, dict) and "parameter" in item:
            return parameters[item["parameter"]]
        return item

    built: dict[str, PipelineStep] = {}
    for entry in definition["steps"]:
        common = {"name": entry["name"], "inputs": [data[n] for n in entry["inputs"]],
                  "outputs": [data[n] for n in entry["outputs"]],
                  "source_directory": source_of(entry["source"]), "allow_reuse": entry["allow_reuse"],
                  "version": entry["version"], "compute_target": entry["compute_target"]}
        arguments = [arg(a) for a in entry["arguments"]]
        if entry["kind"] == "python":
            step: PipelineStep = PythonScriptStep(entry["script_name"], arguments=arguments, **common)
        elif entry["kind"] == "parallel":
            config = ParallelRunConfig(**entry["settings"], source_directory=common["source_directory"],
                                       compute_target=common["compute_target"])
            step = ParallelRunStep(
                entry["name"], config, inputs=[arg(a) for a in entry["parallel_inputs"]],
                output=None if entry["parallel_output"] is None else data[entry["parallel_output"]],
                side_inputs=[data[n] for n in entry["side_inputs"]], arguments=arguments,
                allow_reuse=entry["allow_reuse"])
        else:
            command = entry["command"] if entry["command"] is not None else arguments
            step = CommandStep(command=command, **common)
        env = entry["environment"]
        step.environment = StepEnvironment(
            environment=dict(env["variables"]), python=env["python"], packages=list(env["packages"]),
            pins=dict(env["pins"]), python_version=env["python_version"], target=entry["compute_target"])
        for other in entry["run_after"]:
            step.run_after(built[other])
        built[step.name] = step
    return Pipeline(workspace, list(built.values()), description=definition.get("description"))
