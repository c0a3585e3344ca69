"""The embedded default engine: a local pipeline runner and an embedded MLflow server.

``Pipeline``, ``PythonScriptStep`` and ``PipelineData`` define a pipeline; ``Experiment.submit``
runs it. Only the embedded server (``steprun_widgets.local.server``) needs the ``local`` extra.
"""

from steprun_widgets.local.pipeline import Pipeline, PipelineData, PipelineDefinitionError, PythonScriptStep

__all__ = ["Pipeline", "PythonScriptStep", "PipelineData", "PipelineDefinitionError"]
