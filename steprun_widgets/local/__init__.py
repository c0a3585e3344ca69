"""The embedded default engine: a local pipeline runner and an embedded MLflow server.

``Pipeline``, ``PythonScriptStep``, ``CommandStep``, ``PipelineData`` and ``PipelineParameter``
define a pipeline; ``Experiment.submit`` runs it. ``RunConfiguration`` / ``CondaDependencies``
and ``register_compute`` map Azure ML v1's ``runconfig=`` and ``compute_target=``
(docs/migration-from-azureml-v1.md). ``pipeline.publish(...)``, ``PublishedPipeline`` and
``PipelineEndpoint`` store a pipeline on the tracking server and run it from anywhere
(docs/publishing.md). Only the embedded server (``steprun_widgets.local.server``)
needs the ``local`` extra.
"""

from steprun_widgets.local.command_step import CommandStep
from steprun_widgets.local.compute import ComputeTargetError, register_compute, unregister_compute
from steprun_widgets.local.entry_script import EntryScript
from steprun_widgets.local.parallel_run_step import ParallelRunConfig, ParallelRunStep
from steprun_widgets.local.parameters import PipelineParameter, PipelineParameterError
from steprun_widgets.local.pipeline import (
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PipelineDefinitionError,
    PipelineStep,
    PythonScriptStep,
)
from steprun_widgets.local.publish import (
    PipelineEndpoint,
    PipelineIdVersion,
    PublishedPipeline,
    PublishedPipelineDisabledError,
    PublishedPipelineError,
)
from steprun_widgets.local.runconfig import (
    DEFAULT_CPU_IMAGE,
    DEFAULT_GPU_IMAGE,
    CondaDependencies,
    RunConfigError,
    RunConfiguration,
    RunConfigWarning,
)
from steprun_widgets.local.schedule import Schedule, ScheduleRecurrence
from steprun_widgets.local.source_snapshot import SnapshotError

__all__ = [
    "Pipeline", "PythonScriptStep", "CommandStep", "PipelineStep", "PipelineData",
    "PipelineParameter", "PipelineDefinitionError", "PipelineParameterError",
    "RunConfiguration", "CondaDependencies", "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE",
    "RunConfigError", "RunConfigWarning", "register_compute", "unregister_compute",
    "ComputeTargetError", "PublishedPipeline", "PipelineEndpoint", "PipelineIdVersion",
    "PublishedPipelineError", "PublishedPipelineDisabledError", "Schedule", "ScheduleRecurrence",
    "SnapshotError", "ParallelRunStep", "ParallelRunConfig", "EntryScript",
    "OutputFileDatasetConfig",
]


def __getattr__(name: str):
    # An Azure ML v1 name this package does not implement (or keeps in steprun_widgets): say what to
    # do instead of a bare ImportError.
    from steprun_widgets.core.v1_names import module_error

    error = module_error(__name__, name)
    if error is not None:
        raise error
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
