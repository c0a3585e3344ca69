"""The runner's side of datastore and dataset inputs and outputs of a step.

Before the script starts, each data input (``StepPlan.data_inputs``) is downloaded through the
tracking server into the step's folder (or, for another step's output read as a dataset, is that
output's folder), and recorded as an MLflow dataset input of the step run (``runs/log-inputs``), so
MLflow's UI and the widgets show what the step read. After the outputs are uploaded, an
OutputFileDatasetConfig's ``destination`` gets a copy and ``register_on_complete`` registers it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from steprun_widgets.core import layout
from steprun_widgets.core.dataset import fetch_source, mlflow_dataset, register_definition
from steprun_widgets.core.datastore import DATA_REFERENCE_PREFIX, clean_path, datastore_run
from steprun_widgets.core.rest import MlflowRest, RunRecord
from steprun_widgets.errors import StepRunError, redact
from steprun_widgets.local.plan import StepPlan


def prepare_data_inputs(rest: MlflowRest, step: StepPlan, step_dir: Path, folders: dict[str, str],
                        job) -> dict[str, dict]:
    """Give the step its data inputs (``folders[name]`` = local path); returns what
    ``Run.get_context().input_datasets`` reads (datasets only, not plain references)."""
    datasets: dict[str, dict] = {}
    logged = []
    for entry in step.data_inputs:
        name, sources = entry["name"], entry["sources"]
        listing: list = []
        if len(sources) == 1 and "pipeline_data" in sources[0]:
            path = folders[sources[0]["pipeline_data"]]
            listing = sorted(p.relative_to(path).as_posix() for p in Path(path).rglob("*") if p.is_file())
        else:
            dest = step_dir / "inputs" / name
            if dest.exists():
                shutil.rmtree(dest)
            files = []
            for i, source in enumerate(sources):
                files += fetch_source(rest, source, dest if len(sources) == 1 else dest / str(i))
            path = str(dest)
            single = sources[0].get("path", "")
            if (entry.get("kind") == "reference" and len(files) == 1 and single
                    and files[0].name == single.rsplit("/", 1)[-1] and files[0].parent == dest):
                path = str(files[0])  # a reference to one file: the script gets the file
            listing = sorted((p.relative_to(dest).as_posix(), p.stat().st_size) for p in files)
            job(f"Input {name!r}: {len(files)} file(s) downloaded ({entry['mode']})")
        folders[name] = path
        definition = entry.get("definition") or {"kind": "file", "sources": sources}
        logged.append({"dataset": mlflow_dataset(entry.get("registered") or name, definition, listing),
                       "tags": [{"key": layout.DATASET_CONTEXT_TAG, "value": "input"}]})
        if entry.get("kind") in ("file", "tabular"):
            datasets[name] = {"path": path, "mode": entry["mode"], "kind": entry["kind"],
                              "definition": definition, "registered": entry.get("registered"),
                              "version": entry.get("version")}
    if logged:
        try:
            rest.log_inputs(step.run_id, logged)
        except StepRunError as exc:  # a server without dataset inputs: the step still runs
            job(f"The step's data inputs could not be recorded as MLflow dataset inputs: "
                f"{redact(str(exc))[:300]}")
    return datasets


def data_reference_text(arg: str, folders: dict[str, str]) -> str:
    """A string argument with v1's ``$AZUREML_DATAREFERENCE_<name>`` (``str(data_reference)``)
    replaced by that input's local path, as v1 does."""
    if DATA_REFERENCE_PREFIX not in arg:
        return arg
    for name in sorted(folders, key=len, reverse=True):  # the longest name first: "a" within "ab"
        arg = arg.replace(f"{DATA_REFERENCE_PREFIX}{name}", folders[name])
    return arg


def finish_output_datasets(rest: MlflowRest, run: RunRecord, step: StepPlan, step_dir: Path, job) -> None:
    """Copy outputs to their ``destination`` and register those marked ``register_on_complete``."""
    for output, extra in step.output_datasets.items():
        folder = step_dir / "outputs" / output
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        sources = [{"run_id": step.run_id, "path": layout.output_path(output)}]
        if extra.get("destination"):
            store, target = extra["destination"]
            target = clean_path(target.replace("{run-id}", step.run_id).replace("{output-name}", output))
            record = datastore_run(rest, store)
            for path in files:
                rel = path.relative_to(folder).as_posix()
                with open(path, "rb") as f:
                    rest.upload_artifact(record, f"{target}/{rel}" if target else rel, f)
            job(f"Output {output!r}: {len(files)} file(s) copied to datastore {store!r} at {target!r}")
            sources = [{"datastore": store, "path": target}]
        registration = extra.get("registration")
        if registration:
            definition = {"kind": registration.get("kind") or "file", "sources": sources}
            if registration.get("format"):
                definition["format"] = registration["format"]
            ds = register_definition(rest, definition, registration["name"], registration.get("description"),
                                     registration.get("tags"), create_new_version=True)
            job(f"Output {output!r} registered as dataset {ds.name!r} version {ds.version}")
