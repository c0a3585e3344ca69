"""Azure ML v1's datasets: definitions read in the notebook, registered on the server, and given to
steps (named inputs, another step's output read as a dataset, OutputFileDatasetConfig)."""

from __future__ import annotations

import functools
import http.server
import json
import sys
import threading

import pytest

from steprun_widgets import Dataset, Experiment, FileDataset, Run, TabularDataset, Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.dataset import DatasetError
from steprun_widgets.local import OutputFileDatasetConfig, Pipeline, PipelineData, PythonScriptStep
from tests.local.helpers import write_script

CSV = "name,score,city\nada,3,paris\nbob,5,rome\ncy,7,oslo\ndee,9,lima\n"


@pytest.fixture
def csv_dir(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "part1.csv").write_text(CSV)
    (folder / "notes.txt").write_text("not a table\n")
    return folder


@pytest.fixture
def http_root(tmp_path):
    """A local http server (127.0.0.1, free port) serving a folder: the "public URL" of a sample."""
    root = tmp_path / "www"
    root.mkdir()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_tabular_and_file_datasets_from_local_paths_datastores_and_urls(workspace, csv_dir, http_root,
                                                                       tmp_path):
    # a local file, and the transforms
    ds = Dataset.Tabular.from_delimited_files(str(csv_dir / "part1.csv"))
    assert isinstance(ds, TabularDataset)
    frame = ds.to_pandas_dataframe()
    assert list(frame["name"]) == ["ada", "bob", "cy", "dee"] and frame["score"].sum() == 24
    assert list(ds.skip(1).take(2).to_pandas_dataframe()["name"]) == ["bob", "cy"]
    assert list(ds.keep_columns(["name", "city"]).to_pandas_dataframe().columns) == ["name", "city"]
    assert list(ds.drop_columns("city").to_pandas_dataframe().columns) == ["name", "score"]
    with pytest.raises(DatasetError, match="keep_columns: no column 'nope'"):
        ds.keep_columns(["nope"]).to_pandas_dataframe()

    # a datastore path: (datastore, path) and a glob
    store = workspace.get_default_datastore()
    store.upload(str(csv_dir), target_path=f"{tmp_path.name}/csv", overwrite=True, show_progress=False)
    remote = Dataset.Tabular.from_delimited_files(path=[(store, f"{tmp_path.name}/csv/*.csv")])
    assert remote.to_pandas_dataframe().equals(frame)

    # an http(s) URL, read with requests
    www, url = http_root
    (www / "scores.csv").write_text(CSV)
    assert Dataset.Tabular.from_delimited_files(f"{url}/scores.csv").to_pandas_dataframe().equals(frame)
    with pytest.raises(DatasetError, match=r"scores2\.csv' answered HTTP 404"):
        Dataset.Tabular.from_delimited_files(f"{url}/scores2.csv").to_pandas_dataframe()

    # parquet
    frame.to_parquet(tmp_path / "t.parquet")
    assert Dataset.Tabular.from_parquet_files(str(tmp_path / "t.parquet")).to_pandas_dataframe().equals(frame)

    # files: download keeps the folder's layout
    files = Dataset.File.from_files(path=(store, f"{tmp_path.name}/csv"))
    assert isinstance(files, FileDataset)
    got = sorted(files.download(tmp_path / "dl"))
    assert got == [str(tmp_path / "dl" / "notes.txt"), str(tmp_path / "dl" / "part1.csv")]
    assert files.to_path() == ["/notes.txt", "/part1.csv"]
    with pytest.raises(DatasetError, match="already exists; pass overwrite=True"):
        files.download(tmp_path / "dl")
    uploaded = Dataset.File.upload_directory(str(csv_dir), (store, f"{tmp_path.name}/up"), pattern="*.csv",
                                             show_progress=False)
    assert uploaded.to_path() == ["/part1.csv"]
    with pytest.raises(DatasetError, match="wasbs:// paths do not map"):
        Dataset.File.from_files("wasbs://c@a.blob.core.windows.net/x")


def test_reading_a_table_without_pandas_names_the_extra(monkeypatch, csv_dir):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(DatasetError, match=r"needs pandas: pip install 'steprun-widgets\[data\]'"):
        Dataset.Tabular.from_delimited_files(str(csv_dir / "part1.csv")).to_pandas_dataframe()


def test_registered_datasets_are_listed_by_every_client_with_versions(workspace, csv_dir, tmp_path):
    name = f"scores-{tmp_path.name}"
    ds = Dataset.Tabular.from_delimited_files(str(csv_dir / "part1.csv"))
    first = ds.register(workspace, name, description="the scores", tags={"owner": "ada"})
    assert (first.name, first.version) == (name, 1)
    assert ds.register(workspace, name).version == 1  # the same definition: the same version
    with pytest.raises(DatasetError, match="already registered.*create_new_version=True"):
        ds.take(2).register(workspace, name)
    second = ds.take(2).register(workspace, name, create_new_version=True)
    assert second.version == 2

    # another client of the server: the local file went to the default datastore first
    other = Workspace(workspace.tracking_uri)
    latest = Dataset.get_by_name(other, name)
    assert latest.version == 2 and len(latest.to_pandas_dataframe()) == 2
    v1 = Dataset.get_by_name(other, name, version=1)
    assert len(v1.to_pandas_dataframe()) == 4
    assert v1.description == "the scores" and v1.tags == {"owner": "ada"}
    assert v1.definition["sources"][0]["datastore"] == layout.DEFAULT_DATASTORE
    assert other.datasets[name].version == 2
    with pytest.raises(DatasetError, match="has no version 7"):
        Dataset.get_by_name(other, name, version=7)
    with pytest.raises(DatasetError, match="No dataset named 'nope-"):
        Dataset.get_by_name(other, f"nope-{tmp_path.name}")


PREP = """
import os, sys
from steprun_widgets import Run
run = Run.get_context()
table = run.input_datasets["raw"]              # direct: a TabularDataset
folder = run.input_datasets["files"]           # mounted FileDataset: a folder
frame = table.to_pandas_dataframe()
print("PREP rows", len(frame), "files", sorted(os.listdir(folder)), "arg", sys.argv[1] == folder)
out = sys.argv[2]
frame[frame.score > 4].to_csv(os.path.join(out, "kept.csv"), index=False)
frame.to_parquet(os.path.join(sys.argv[3], "all.parquet"))
"""

TRAIN = """
from steprun_widgets import Run
run = Run.get_context()
kept = run.input_datasets["kept"].to_pandas_dataframe()
full = run.input_datasets["full"].to_pandas_dataframe()
print("TRAIN kept", list(kept.name), "full", len(full))
"""


def test_datasets_flow_through_a_pipeline(workspace, csv_dir, tmp_path):
    src = tmp_path / "src"
    write_script(src, "prep.py", PREP)
    write_script(src, "train.py", TRAIN)
    raw = Dataset.Tabular.from_delimited_files(str(csv_dir / "part1.csv"))
    files = Dataset.File.from_files(str(csv_dir)).as_named_input("files").as_mount()
    kept = OutputFileDatasetConfig(name="kept").read_delimited_files().register_on_complete(
        f"kept-{tmp_path.name}")
    full = PipelineData("full")
    # the pipeline lists train only: prep comes along as the producer of its inputs (v1's closure)
    PythonScriptStep("prep.py", name="prep", source_directory=src, arguments=[files, kept, full],
                     inputs=[raw.as_named_input("raw")], outputs=[full])
    train = PythonScriptStep("train.py", name="train", source_directory=src,
                             inputs=[kept.as_input("kept"),
                                     full.parse_parquet_files().as_named_input("full")])
    run = Experiment(workspace, f"dsp-{tmp_path.name}").submit(Pipeline(workspace, [train]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=180) == layout.FINISHED

    prep_run, train_run = run.find_step_run("prep")[0], run.find_step_run("train")[0]
    assert "PREP rows 4 files ['notes.txt', 'part1.csv'] arg True" in prep_run.get_stdout_log()
    assert "TRAIN kept ['bob', 'cy', 'dee'] full 4" in train_run.get_stdout_log()
    assert set(prep_run.get_outputs()) == {"kept", "full"}

    # the output was registered once the step finished, and reads back anywhere
    registered = Dataset.get_by_name(Workspace(workspace.tracking_uri), f"kept-{tmp_path.name}")
    assert isinstance(registered, TabularDataset)
    assert list(registered.to_pandas_dataframe().name) == ["bob", "cy", "dee"]

    # the dataset inputs are MLflow dataset inputs of the step runs
    def inputs(step_run):
        body = workspace.rest.transport.get_json("/api/2.0/mlflow/runs/get", {"run_id": step_run.id})
        return {i["dataset"]["name"]: i for i in body["run"].get("inputs", {}).get("dataset_inputs", [])}

    assert set(inputs(prep_run)) == {"raw", "files"}
    assert set(inputs(train_run)) == {"kept", "full"}
    raw_input = inputs(prep_run)["raw"]
    assert json.loads(raw_input["dataset"]["source"])["kind"] == "tabular"
    assert {"key": layout.DATASET_CONTEXT_TAG, "value": "input"} in raw_input["tags"]

    # the step widget's parameters table lists them too
    from tests.support import watch_widget

    widget, _ = watch_widget(prep_run)
    assert widget.params["input dataset raw"].startswith("datastore://workspaceblobstore/datasets/")

    # outside a step, input_datasets is empty (an offline run)
    assert Run.get_context().input_datasets == {}
