"""CommandStep: a step that runs a command line (Azure ML v1's ``azureml.pipeline.steps.CommandStep``)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from steprun_widgets.local.pipeline import PipelineDefinitionError, PipelineStep


class CommandStep(PipelineStep):
    """Runs ``command`` in ``source_directory``.

    ``command`` is a string, run by ``/bin/sh -c`` as Azure ML runs it, or a list whose items are
    strings, numbers, PipelineData (replaced by their folder) and PipelineParameter (replaced by
    their value), run as one argv without a shell. ``python`` in a command is the step's Python
    (its runconfig's interpreter, or the submitting one): its folder comes first on ``PATH``.
    A ``runconfig`` that is a ScriptRunConfig does not map: pass its command here.
    """

    def __init__(self, command: str | Sequence[Any] | None = None, name: str | None = None,
                 compute_target: Any = None, runconfig: Any = None,
                 runconfig_pipeline_params: Any = None, inputs: Iterable[Any] | None = None,
                 outputs: Iterable[Any] | None = None, params: Mapping[str, Any] | None = None,
                 source_directory: str | os.PathLike | None = None, allow_reuse: bool = True,
                 version: str | None = None) -> None:
        if isinstance(command, str):
            if not command.strip():
                raise PipelineDefinitionError("CommandStep: command is empty")
            words = shlex.split(command)
            parts: list[Any] = []
        elif isinstance(command, Sequence) and command:
            parts = list(command)
            words = [str(p) for p in parts if isinstance(p, str)]
        else:
            raise PipelineDefinitionError(
                f"CommandStep: command must be a string or a non-empty list, got {command!r}"
                + (" (a command inside a ScriptRunConfig passed as runconfig does not map: pass "
                   "command= and source_directory= to CommandStep)" if runconfig is not None else ""))
        step_name = name if name is not None else (os.path.basename(words[0]) if words else "command")
        if runconfig_pipeline_params:
            raise PipelineDefinitionError(
                f"Step {step_name!r}: runconfig_pipeline_params is not supported; put the "
                "PipelineParameter in the command list instead")
        # A string command's pieces are not arguments; a list's are (PipelineData checked there).
        super().__init__(step_name, parts, inputs, outputs, source_directory, allow_reuse,
                         compute_target, runconfig, params, version)
        self.command = command if isinstance(command, str) else None

    def argv_template(self) -> list[Any]:
        """The command as the plan gives it to the runner: ``["/bin/sh", "-c", command]`` for a
        string, the list itself otherwise (PipelineData and PipelineParameter still in place)."""
        if self.command is not None:
            return ["/bin/sh", "-c", self.command]
        return list(self.arguments)

    def reuse_identity(self) -> dict[str, Any]:
        identity = super().reuse_identity()
        identity["command"] = self.command if self.command is not None else "<list>"
        return identity

    def __repr__(self) -> str:
        return f"CommandStep(name={self.name!r})"

