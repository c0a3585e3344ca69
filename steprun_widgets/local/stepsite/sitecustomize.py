"""Loaded at the start of a step's Python (the runner puts this folder first on its PYTHONPATH).

The runner gives the step ``MLFLOW_RUN_ID`` so that plain MLflow calls land in the step's run; but
MLflow then treats that run as its own: ``start_run`` sets it RUNNING, and ``end_run`` (also the
one MLflow registers with ``atexit``, and the end of a ``with mlflow.start_run():`` block) sets it
FINISHED or FAILED while the runner still ships logs and outputs, so a poller would stop early and
a step that then exits non-zero would look Finished. The runner owns that run's status: when
``mlflow.store.tracking.rest_store`` is imported (never before, so a step that does not use MLflow
pays nothing), its ``update_run_info`` is wrapped to keep the status of the step's own run
RUNNING. Every other run, and everything else MLflow does, is left as it is.

Then the ``sitecustomize`` that would have loaded without this folder (if any) is run, so an
environment's own customisation keeps working.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

_TARGET = "mlflow.store.tracking.rest_store"
_HERE = os.path.dirname(os.path.abspath(__file__))


def _guard(module) -> None:
    store = getattr(module, "RestStore", None)
    original = getattr(store, "update_run_info", None)
    if original is None or getattr(original, "_steprun_guarded", False):
        return
    from mlflow.entities import RunStatus

    def update_run_info(self, run_id, run_status, end_time, run_name=None, *args, **kwargs):
        if run_id == os.environ.get("STEPRUN_RUN_ID"):
            run_status, end_time = RunStatus.RUNNING, None
        return original(self, run_id, run_status, end_time, run_name, *args, **kwargs)

    update_run_info._steprun_guarded = True
    update_run_info.__doc__ = original.__doc__
    store.update_run_info = update_run_info


class _Loader(importlib.abc.Loader):
    def __init__(self, inner) -> None:
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module) -> None:
        self._inner.exec_module(module)
        _guard(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != _TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(spec.loader)
        return spec


def _chain() -> None:
    """Run the sitecustomize that this one shadows, if there is one."""
    rest = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None or spec.origin == __file__:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


if os.environ.get("STEPRUN_RUN_ID") and os.environ.get("MLFLOW_RUN_ID") == os.environ.get("STEPRUN_RUN_ID"):
    sys.meta_path.insert(0, _Finder())
_chain()
