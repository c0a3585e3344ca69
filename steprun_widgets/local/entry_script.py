"""``EntryScript``: what Azure ML v1's ``azureml_user.parallel_run.EntryScript`` gives the entry
script of a ParallelRunStep (kept apart from the driver ``parallel_run``, which runs as ``-m``)."""

from __future__ import annotations

import logging
import os

#: Environment the workers see: the output folder (EntryScript().output_dir) and the worker's number.
OUTPUT_ENV = "STEPRUN_PARALLEL_OUTPUT"
WORKER_ENV = "STEPRUN_PARALLEL_WORKER"


class EntryScript:
    """What v1's ``azureml_user.parallel_run.EntryScript`` gives an entry script: ``logger`` (its
    lines go to the step's stderr, prefixed with the worker's number), ``output_dir`` and
    ``working_dir``."""

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger("entry_script")

    @property
    def output_dir(self) -> str | None:
        return os.environ.get(OUTPUT_ENV)

    @property
    def working_dir(self) -> str:
        return os.getcwd()
