"""Azure ML SDK v1 names this package does not implement, and what to do instead.

A notebook ported from v1 changes its imports and set-up cells; every other v1 name it still uses
must fail with a message that says what to do, not a bare ``ImportError``/``AttributeError``. The
modules ``steprun_widgets`` and ``steprun_widgets.local`` and the classes a v1 notebook holds
(``Workspace``, ``PipelineRun``, ``StepRun``, ``Pipeline``...) look a missing name up here and raise
:class:`~steprun_widgets.errors.V1NotSupportedError`, which names the v1 name, the way to go and
the section of the migration guide that explains it.
"""

from __future__ import annotations

from steprun_widgets.errors import V1MemberNotSupportedError, V1NotSupportedError

GUIDE = "docs/migration-from-azureml-v1.md"

# (what to do instead, the guide's section anchor), by kind of v1 name.
_SETUP = ("the workspace is an MLflow tracking server: Workspace.local() (the embedded server) or "
          "Workspace(tracking_uri, token=...) / username=, password=", "set-up-cells")
_COMPUTE = ("steps run on this machine by default: pass compute_target='local', or register a Dask "
            "cluster once with steprun_widgets.local.register_compute(name, client)", "set-up-cells")
_DATA = ("this form of v1's data API does not map: use Datastore (ws.get_default_datastore(), upload, "
         "path), Dataset.File / Dataset.Tabular, OutputFileDatasetConfig or PipelineData",
         "datastores-and-datasets")
_ENVIRONMENT = ("describe the step's Python with steprun_widgets.local.RunConfiguration (its "
                "environment.python.interpreter_path and conda_dependencies) and pass it as runconfig=",
                "run-configuration")
_PUBLISH = ("publish with pipeline.publish(name, description, version) and run it from anywhere with "
            "PublishedPipeline.get(workspace, id).submit(...) or PipelineEndpoint; from cron or CI with "
            "`steprun-widgets pipeline submit NAME` (docs/publishing.md)", "publishing-and-scheduling")
_PIPELINE = ("a v1 pipeline-service feature with no counterpart here: a Pipeline is defined in Python "
             "and submitted with experiment.submit(pipeline) or published with pipeline.publish(...)",
             "publishing-and-scheduling")
_STEPS = ("only PythonScriptStep, CommandStep and ParallelRunStep run here: a step that needs an Azure "
          "service becomes a PythonScriptStep (on a Dask compute target to fan out)",
          "pipelines-and-submission")
_MODELS = ("models live in MLflow's model registry: Model.register(ws, path, name) or, from the "
           "notebook once the step has finished, step_run.register_model(name, "
           "'outputs/<output>/<file>'); deployments are `mlflow models serve`", "models")
_SERVICES = ("an Azure resource with no counterpart on an MLflow server; leave it out of the ported "
             "notebook", "not-mapped-the-rest-of-v1")
_GRAPH = ("an internal of v1's pipeline graph: a pipeline here is built from its steps "
          "(PipelineRunWidget shows the graph, pipeline_run.steps_in_graph_order() walks it)",
          "not-mapped-the-rest-of-v1")
_RUNS = ("open a run with PipelineRun(experiment, run_id) or steprun_widgets.core.runs.open_run(workspace, "
         "run_id); inside a step, Run.get_context()", "runs-and-outputs")

_MODULE_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    _SETUP: ("AbstractAuthentication", "ArmTokenAuthentication", "Audience", "AzureCliAuthentication",
             "AzureMLTokenAuthentication", "InteractiveLoginAuthentication", "MsiAuthentication",
             "ServicePrincipalAuthentication", "TokenAuthentication"),
    _COMPUTE: ("ComputeTarget", "AdlaCompute", "AksCompute", "AmlCompute", "BatchCompute", "ComputeInstance",
               "DataFactoryCompute", "DatabricksCompute", "DsvmCompute", "HDInsightCompute",
               "KubernetesCompute", "KustoCompute", "RemoteCompute", "SynapseCompute",
               "attach_legacy_compute_target", "is_compute_target_prepared", "prepare_compute_target",
               "remove_legacy_compute_target", "AmlComputeConfiguration", "KubernetesComputeConfiguration",
               "HdiConfiguration"),
    _DATA: ("DataType", "DatacacheStore", "HDFSOutputDatasetConfig", "LinkFileOutputDatasetConfig",
            "LinkTabularOutputDatasetConfig", "PipelineDataset", "Data", "DataLocation",
            "DataReferenceConfiguration",
            "DatacacheConfiguration", "DatasetRegistrationOptions", "GlobsOptions", "MountOptions",
            "OutputData", "OutputOptions", "RegistrationOptions", "UploadOptions", "Uri",
            "TrainingOutput"),
    _ENVIRONMENT: ("Environment", "ScriptRunConfig", "EnvironmentDefinition", "DockerConfiguration",
                   "MpiConfiguration", "PyTorchConfiguration", "TensorflowConfiguration",
                   "SparkConfiguration", "HistoryConfiguration", "ParallelTaskConfiguration",
                   "ApplicationEndpointConfiguration", "AzureContainerRegistry", "ContainerRegistry"),
    _PUBLISH: ("TimeZone", "PipelineDraft"),
    _STEPS: ("AdlaStep", "AutoMLStep", "AutoMLStepRun", "AzureBatchStep", "DataTransferStep",
             "DatabricksStep",
             "EstimatorStep", "HyperDriveStep", "HyperDriveStepRun", "KustoStep", "ModuleStep", "MpiStep",
             "RScriptStep", "SynapseSparkStep", "StepSequence",
             "NotebookRunnerStep", "Module", "ModuleVersion", "ModuleVersionDescriptor"),
    _MODELS: ("Webservice", "Image"),
    _SERVICES: ("Keyvault", "LinkedService", "PrivateEndPoint", "PrivateEndPointConfig",
                "SynapseWorkspaceLinkedServiceConfiguration", "diagnostic_log"),
    _GRAPH: ("DataSource", "DataSourceDef", "DataSourceNode", "Edge", "Graph", "InputPort",
             "InputPortBinding",
             "InputPortDef", "ModuleDef", "ModuleNode", "Node", "OutputPort", "OutputPortBinding",
             "OutputPortDef", "Param", "ParamDef", "StoredProcedureParameter",
             "StoredProcedureParameterType"),
    _RUNS: ("ScriptRun", "get_run"),
}

#: v1 name → (advice, guide section) for module-level names.
MODULE_NAMES: dict[str, tuple[str, str]] = {
    name: kind for kind, names in _MODULE_NAMES.items() for name in names}

# Where the names this package does implement live, for an import from the wrong module.
_CORE = ("Workspace", "Experiment", "PipelineRun", "StepRun", "StepRunOutput", "PortDataReference",
         "StepRunWidget", "PipelineRunWidget", "RunDetails", "Run", "VERSION", "Datastore", "DataReference",
         "DataPath", "DataPathComputeBinding", "Dataset", "FileDataset", "TabularDataset",
         "DatasetConsumptionConfig", "Model")
_LOCAL = ("Pipeline", "PipelineData", "PipelineParameter", "PipelineStep", "PythonScriptStep", "CommandStep",
          "RunConfiguration", "CondaDependencies", "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE",
          "PublishedPipeline", "PipelineEndpoint", "Schedule", "ScheduleRecurrence",
          "ParallelRunStep", "ParallelRunConfig", "EntryScript",
          "OutputFileDatasetConfig")
HOME: dict[str, str] = {**{n: "steprun_widgets" for n in _CORE},
                        **{n: "steprun_widgets.local" for n in _LOCAL}}

_RUN_FILES = ("a step run's files are its logs (get_stdout_log(), get_stderr_log(), get_job_log()) and "
              "outputs (get_output_data(name).download(local_path)); MlflowClient().list_artifacts(run.id) "
              "and download_artifacts reach any other artifact", "runs-and-outputs")
_RUN_LOGGING = ("log from inside the step with Run.get_context() (run.log, log_list, log_row, log_image, "
                "tag, upload_file); a run is read-only from the notebook", "runs-and-outputs")
_RUN_OTHER = ("an Azure run-history feature with no counterpart on an MLflow run; get_details(), "
              "get_tags() and get_metrics() read what the run holds", "runs-and-outputs")
_RUN_MEMBERS: dict[str, tuple[str, str]] = {
    **{m: _RUN_FILES for m in ("get_file_names", "download_file", "download_files", "get_all_logs",
                               "get_snapshot_id", "restore_snapshot", "take_snapshot")},
    **{m: _RUN_LOGGING for m in ("log", "log_list", "log_row", "log_table", "log_image", "log_accuracy_table",
                                 "log_confusion_matrix", "log_predictions", "log_residuals", "tag",
                                 "set_tags", "remove_tags", "add_properties", "upload_file", "upload_files",
                                 "upload_folder", "flush")},
    "register_model": _MODELS,
    "publish_pipeline": _PUBLISH,
    "submit_child": _RUNS, "create_children": _RUNS, "start": _RUNS, "get_submitted_run": _RUNS,
    "get": _RUNS, "list": _RUNS, "list_by_compute": _RUNS, "get_pipeline_runs": _RUNS,
    "get_environment": _ENVIRONMENT, "get_secret": _SERVICES, "get_secrets": _SERVICES,
}

#: v1 class name → {member: (advice, guide section)}; a v1 member missing from a class's table gets
#: that class's default (the ``""`` key).
MEMBER_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "StepRun": {"": _RUN_OTHER, **_RUN_MEMBERS},
    "PipelineRun": {"": _RUN_OTHER, **_RUN_MEMBERS},
    "Run": {"": _RUN_OTHER, **_RUN_MEMBERS},
    "Workspace": {"": _SETUP, "set_default_datastore": _DATA, "compute_targets": _COMPUTE,
                  "get_default_compute_target": _COMPUTE, "environments": _ENVIRONMENT,
                  "webservices": _MODELS, "images": _MODELS, "get_run": _RUNS},
    "Experiment": {"": ("an Azure experiment feature with no counterpart here; MLflow's client "
                        "(MlflowClient().search_runs) lists an experiment's runs", "runs-and-outputs")},
    "Pipeline": {"": _PIPELINE, "service_endpoint": _PUBLISH, "graph": _GRAPH,
                 "load_yaml": ("define the pipeline in Python (Pipeline(workspace, steps))",
                               "pipelines-and-submission")},
    "PipelineData": {"": _DATA},
    "PortDataReference": {"": _DATA},
    "StepRunOutput": {"": _DATA},
}

#: Every v1 member name per class, from Microsoft's published v1 packages (so a name the tables
#: above do not list still gets its class's default). Methods and properties only.
V1_MEMBERS: dict[str, frozenset[str]] = {
    "Run": frozenset((
        "add_properties", "add_type_provider", "cancel", "child_run", "clean", "complete", "create_children",
        "description", "display_name", "download_file", "download_files", "experiment", "fail", "flush",
        "get", "get_all_logs", "get_children", "get_context", "get_detailed_status", "get_details",
        "get_details_with_logs", "get_environment", "get_file_names", "get_metrics", "get_properties",
        "get_secret", "get_secrets", "get_snapshot_id", "get_status", "get_submitted_run", "get_tags", "id",
        "list", "list_by_compute", "log", "log_accuracy_table", "log_confusion_matrix", "log_image",
        "log_list", "log_predictions", "log_residuals", "log_row", "log_table", "name", "number", "parent",
        "properties", "register_model", "remove_tags", "restore_snapshot", "set_tags", "start", "status",
        "submit_child", "tag", "tags", "take_snapshot", "type", "upload_file", "upload_files",
        "upload_folder", "wait_for_completion",
    )),
    "Workspace": frozenset((
        "add_private_endpoint", "compute_targets", "create", "datasets", "datastores", "delete",
        "delete_connection", "delete_private_endpoint_connection", "diagnose_workspace", "discovery_url",
        "environments", "experiments", "from_config", "get", "get_connection", "get_default_compute_target",
        "get_default_datastore", "get_default_keyvault", "get_details", "get_mlflow_tracking_uri", "get_run",
        "images", "linked_services", "list", "list_connections", "list_keys", "location", "models", "name",
        "private_endpoints", "resource_group", "service_context", "set_connection", "set_default_datastore",
        "setup", "sku", "subscription_id", "sync_keys", "tags", "update", "update_dependencies",
        "webservices", "write_config",
    )),
    "Experiment": frozenset((
        "archive", "archived_time", "delete", "from_directory", "get_docs_url", "get_runs", "id", "list",
        "name", "reactivate", "refresh", "remove_tags", "set_tags", "start_logging", "submit", "tag", "tags",
        "workspace", "workspace_object",
    )),
    "Pipeline": frozenset(["graph", "load_yaml", "publish", "service_endpoint", "submit", "validate"]),
    "PipelineData": frozenset((
        "as_dataset", "as_download", "as_input", "as_mount", "create_input_binding", "data_type", "datastore",
        "get_env_variable_name", "name", "parse_delimited_files", "parse_parquet_files",
    )),
    "PortDataReference": frozenset((
        "as_download", "as_input", "as_mount", "create_input_binding", "datastore", "datastore_name",
        "download", "name", "path_on_datastore",
    )),
    "StepRunOutput": frozenset(("get_port_data_reference",)),
}
_PIPELINE_RUN = frozenset((
    "cancel", "child_run", "complete", "fail", "find_step_run", "get", "get_graph", "get_pipeline_output",
    "get_pipeline_runs", "get_status", "get_steps", "get_tags", "publish_pipeline", "save",
    "wait_for_completion",
))
_STEP_RUN = frozenset((
    "child_run", "complete", "fail", "get_details_with_logs", "get_job_log", "get_output", "get_output_data",
    "get_outputs", "get_status", "get_stderr_log", "get_stdout_log", "pipeline_run_id", "wait_for_completion",
))
V1_MEMBERS["PipelineRun"] = V1_MEMBERS["Run"] | _PIPELINE_RUN
V1_MEMBERS["StepRun"] = V1_MEMBERS["Run"] | _STEP_RUN


def _message(v1_name: str, advice: str, section: str) -> str:
    return f"Azure ML v1's {v1_name} is not supported here: {advice} (see {GUIDE}#{section})"


def module_error(module: str, name: str) -> V1NotSupportedError | None:
    """The error for ``from <module> import name`` of a v1 name, or None when ``name`` is no v1 name."""
    home = HOME.get(name)
    if home is not None and home != module:
        return V1NotSupportedError(
            f"{name} is not in {module}: import it from {home} (see {GUIDE}#imports)",
            v1_name=name)
    found = MODULE_NAMES.get(name)
    if found is None:
        return None
    return V1NotSupportedError(_message(name, *found), v1_name=name)


def member_error(v1_class: str, name: str) -> V1MemberNotSupportedError | None:
    """The error for ``obj.name`` on an object standing for v1's ``v1_class``, or None when ``name``
    is no member of that v1 class (an ordinary AttributeError follows)."""
    if name not in V1_MEMBERS.get(v1_class, ()) and name not in MEMBER_NAMES.get(v1_class, {}):
        return None
    table = MEMBER_NAMES.get(v1_class, {})
    advice, section = table.get(name) or table[""]
    return V1MemberNotSupportedError(_message(f"{v1_class}.{name}", advice, section),
                                     v1_name=f"{v1_class}.{name}")


class V1Members(type):
    """Metaclass of the classes that stand for a v1 class: a v1 member they do not implement, read
    on the class (``Workspace.from_config``) or on an instance (``step_run.get_file_names``), raises
    :class:`V1NotSupportedError` saying what to do instead of an AttributeError.

    The v1 class's name is the class's own, or its ``_v1_class`` attribute.
    """

    def __new__(mcls, name: str, bases: tuple, namespace: dict, **kwargs):
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if "__getattr__" not in namespace:
            def __getattr__(self, attr: str):
                raise _missing(type(self), attr)
            cls.__getattr__ = __getattr__
        return cls

    def __getattr__(cls, attr: str):
        raise _missing(cls, attr)


def _missing(cls: type, attr: str) -> Exception:
    if not attr.startswith("_"):
        # Looked up in the classes' own dicts: a getattr here would come back to this function.
        v1_class = next((k.__dict__["_v1_class"] for k in cls.__mro__ if "_v1_class" in k.__dict__),
                        cls.__name__)
        error = member_error(v1_class, attr)
        if error is not None:
            return error
    return AttributeError(f"{cls.__name__!r} object has no attribute {attr!r}")
