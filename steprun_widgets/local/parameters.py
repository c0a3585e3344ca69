"""PipelineParameter: a named value in a step's arguments, set per submission.

As in Azure ML v1, ``PipelineParameter(name, default_value)`` goes into a step's ``arguments``;
``experiment.submit(pipeline, pipeline_parameters={name: value})`` overrides the default for one
run. The value a run used is an MLflow param of the pipeline run
(``layout.param_pipeline_parameter(name)``) and, being part of the step's resolved arguments, of
the step's reuse key: a new value runs the step again, the same value reuses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from steprun_widgets.errors import StepRunError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,99}$")
#: What a parameter value may be: it reaches the script as one command-line argument.
VALUE_TYPES = (str, int, float, bool)


class PipelineParameterError(StepRunError):
    """A PipelineParameter or a ``pipeline_parameters=`` value that cannot be used."""


def check_value(name: str, value: Any, where: str) -> Any:
    """The value, or a clear error when it is not a string, number or bool."""
    if not isinstance(value, VALUE_TYPES):
        kind = type(value).__name__
        raise PipelineParameterError(
            f"PipelineParameter {name!r}: {where} is a {kind}; values here are strings, numbers or "
            "bools (they reach the script as a command-line argument). For data (a DataPath or a "
            "Dataset) pass its path as a string, or produce it with a step that writes a PipelineData")
    return value


class PipelineParameter:
    """A named argument value of a pipeline: the default, or what ``submit`` is given for it."""

    def __init__(self, name: str, default_value: Any) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise PipelineParameterError(
                f"PipelineParameter name {name!r} is not valid: letters, digits, '_', '-', '.' "
                "(starting with a letter or '_', at most 100)")
        self.name = name
        self.default_value = check_value(name, default_value, "default_value")

    def __repr__(self) -> str:
        return f"PipelineParameter({self.name!r}, default_value={self.default_value!r})"


def as_argument(value: Any) -> str:
    """How a value is written on the command line (``True`` -> ``"True"``, as Azure ML passes it)."""
    return str(value)


def collect(arguments_lists: Iterable[Iterable[Any]]) -> dict[str, PipelineParameter]:
    """Name -> parameter for every PipelineParameter in the given argument lists.

    Two different parameters with the same name are an error (which default would win?).
    """
    found: dict[str, PipelineParameter] = {}
    for arguments in arguments_lists:
        for arg in arguments:
            if isinstance(arg, PipelineParameter):
                seen = found.setdefault(arg.name, arg)
                if seen is not arg and seen.default_value != arg.default_value:
                    raise PipelineParameterError(
                        f"Two PipelineParameters are named {arg.name!r} with different defaults "
                        f"({seen.default_value!r}, {arg.default_value!r}); use one object or two names")
    return found


def resolve_values(declared: Mapping[str, PipelineParameter],
                   given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every declared parameter's value for one run: ``given`` over the defaults.

    A name in ``given`` that no step uses is an error listing the known names (a typo would
    otherwise run the pipeline with the default, silently).
    """
    given = dict(given or {})
    if not all(isinstance(k, str) for k in given):
        raise PipelineParameterError(f"pipeline_parameters keys must be parameter names, got {given!r}")
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise PipelineParameterError(
            f"pipeline_parameters names {unknown[0]!r}, which no step of the pipeline uses "
            f"(its PipelineParameters: {known})")
    return {name: check_value(name, given.get(name, p.default_value), "the submitted value")
            for name, p in declared.items()}
