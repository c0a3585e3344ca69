"""Compute targets: what a v1 ``compute_target=`` names, mapped onto where the local runner runs steps.

Azure ML v1 steps name a compute target (an ``AmlCompute`` cluster, a name...). Here a step runs
on an executor of the local runner, so a compute target is one of:

- ``"local"`` (or None): a process of the detached runner on this machine (the default);
- a name registered with :func:`register_compute` (an executor you set up once, e.g. a Dask
  ``Client`` for your cluster, registered under the name your notebook already uses,
  ``register_compute("cpu-cluster", client)``);
- a Dask ``distributed.Client`` or a scheduler address (``"tcp://host:8786"``);
- a ``concurrent.futures.Executor``.

An Azure compute object (``ComputeTarget``, ``AmlCompute``...) or an unknown name is a clear error
that says how to map it. The runner drives one pipeline on one executor, so every step of a
pipeline must resolve to the same target.
"""

from __future__ import annotations

import threading
from typing import Any

from steprun_widgets.errors import StepRunError

LOCAL = "local"

_registry: dict[str, Any] = {}
_lock = threading.Lock()


class ComputeTargetError(StepRunError):
    """A compute target that does not map onto an executor of the local runner."""


def register_compute(name: str, executor: Any) -> None:
    """Make ``compute_target=name`` run steps on ``executor``.

    ``executor`` is ``"local"``, a Dask ``Client`` or scheduler address, or a
    ``concurrent.futures.Executor``. Registering a name again replaces it.
    """
    if not isinstance(name, str) or not name.strip():
        raise ComputeTargetError(f"register_compute: the name must be a non-empty string, got {name!r}")
    if name == LOCAL:
        raise ComputeTargetError("register_compute: 'local' is built in (the runner's own processes)")
    _check_executor(executor, f"register_compute({name!r})")
    with _lock:
        _registry[name] = executor


def unregister_compute(name: str) -> None:
    """Forget a registered compute target (no error when it is not registered)."""
    with _lock:
        _registry.pop(name, None)


def registered_computes() -> dict[str, Any]:
    """Name -> executor of every registered compute target."""
    with _lock:
        return dict(_registry)


def check_compute_target(target: Any, owner: str) -> Any:
    """Validate a step's ``compute_target`` when the step is defined; returns it unchanged.

    Names are looked up at submission (a name may be registered after the step is built), so
    only objects are checked here: an Azure compute object is refused at once.
    """
    if target is None or isinstance(target, str):
        return target
    _check_executor(target, owner)
    return target


def resolve_compute(target: Any, owner: str) -> Any:
    """The executor a compute target stands for: None (the runner's processes), a Dask address
    or client, or an Executor. ``owner`` names the step in errors."""
    if target is None or target == LOCAL:
        return None
    if isinstance(target, str):
        if "://" in target:
            return target  # a Dask scheduler address
        with _lock:
            known = dict(_registry)
        if target in known:
            return resolve_compute(known[target], owner)
        names = ", ".join(sorted(known)) or "none registered"
        raise ComputeTargetError(
            f"{owner}: compute_target {target!r} is not a known compute target (known: 'local', "
            f"{names}). Register it with steprun_widgets.local.register_compute({target!r}, executor) "
            "(a Dask Client, a scheduler address or a concurrent.futures.Executor), or use 'local'")
    _check_executor(target, owner)
    return target


def _check_executor(executor: Any, owner: str) -> None:
    if executor is None or executor == LOCAL or (isinstance(executor, str) and "://" in executor):
        return
    cls = type(executor)
    module = cls.__module__ or ""
    if module.startswith("azureml") or cls.__name__ in ("ComputeTarget", "AmlCompute",
                                                          "ComputeInstance", "RemoteCompute"):
        name = getattr(executor, "name", None)
        hint = f"register_compute({name!r}, executor)" if isinstance(name, str) else \
            "register_compute('<name>', executor)"
        raise ComputeTargetError(
            f"{owner}: compute_target is an Azure ML compute object ({cls.__name__}); steps run on "
            f"the local runner here. Pass compute_target='local', or {hint} once with a Dask Client "
            "or a concurrent.futures.Executor and pass its name")
    if isinstance(executor, str):
        return  # a name: looked up at submission
    is_dask = module.startswith("distributed") and hasattr(executor, "scheduler")
    if not is_dask and not callable(getattr(executor, "submit", None)):
        raise ComputeTargetError(
            f"{owner}: compute_target {executor!r} is neither 'local', a registered name, a Dask "
            "Client or scheduler address, nor a concurrent.futures.Executor")


def pipeline_executor(step_targets: dict[str, Any], executor: Any) -> Any:
    """The one executor a pipeline runs on, from its steps' compute targets and ``submit(executor=)``.

    Steps that name different targets are an error (the runner drives a pipeline on one executor).
    """
    resolved = {name: resolve_compute(target, f"Step {name!r}") for name, target in step_targets.items()}
    chosen = {_identity(e): (name, e) for name, e in resolved.items() if e is not None}
    if len(chosen) > 1:
        (a, _), (b, _) = list(chosen.values())[:2]
        raise ComputeTargetError(
            f"Steps {a!r} and {b!r} name different compute targets ({step_targets[a]!r}, "
            f"{step_targets[b]!r}): the local runner runs a pipeline on one executor; give every "
            "step the same compute_target, or pass submit(executor=...)")
    from_steps = next(iter(chosen.values()))[1] if chosen else None
    if executor is not None:
        if from_steps is not None and _identity(from_steps) != _identity(executor):
            name = next(iter(chosen.values()))[0]
            raise ComputeTargetError(
                f"submit(executor={executor!r}) differs from step {name!r}'s compute_target "
                f"{step_targets[name]!r}: pass one of them")
        return executor
    return from_steps


def _identity(executor: Any) -> Any:
    return executor if isinstance(executor, str) else id(executor)
