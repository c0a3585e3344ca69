"""Azure ML v1's datastores on the tracking server: upload, download, references as step inputs."""

from __future__ import annotations

import json

import pytest

from steprun_widgets import DataPath, DataPathComputeBinding, DataReference, Datastore, Experiment, Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.datastore import DatastoreError
from steprun_widgets.local import Pipeline, PythonScriptStep
from tests.local.helpers import write_script

READER = """
import os, sys
for arg in sys.argv[1:]:
    if os.path.isdir(arg):
        for root, _, files in sorted(os.walk(arg)):
            for f in sorted(files):
                p = os.path.join(root, f)
                print("FILE", os.path.relpath(p, arg), open(p).read().strip())
    else:
        print("ONE", os.path.basename(arg), open(arg).read().strip())
"""


@pytest.fixture
def data_dir(tmp_path):
    src = tmp_path / "data"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text("x,y\n1,2\n")
    (src / "sub" / "b.txt").write_text("bee\n")
    return src


def test_default_datastore_upload_download_and_refused_registrations(workspace, data_dir, tmp_path):
    ds = workspace.get_default_datastore()
    assert ds.name == layout.DEFAULT_DATASTORE == Datastore.get(workspace, "workspaceblobstore").name
    assert Datastore(workspace, "workspaceblobstore").run_id == ds.run_id  # one run holds its files
    ref = ds.upload(src_dir=str(data_dir), target_path="t1/raw", overwrite=True, show_progress=False)
    assert isinstance(ref, DataReference) and ref.path_on_datastore == "t1/raw"

    # another client of the same server sees the same files (they live on the server)
    other = Workspace(workspace.tracking_uri)
    got = Datastore.get(other, "workspaceblobstore").download(str(tmp_path / "dl"), prefix="t1/raw",
                                                              show_progress=False)
    assert got == 2
    assert (tmp_path / "dl" / "t1" / "raw" / "sub" / "b.txt").read_text() == "bee\n"

    # overwrite=False keeps what is there; overwrite=True replaces it
    (data_dir / "a.csv").write_text("changed\n")
    ds.upload(str(data_dir), "t1/raw", overwrite=False, show_progress=False)
    ds.download(str(tmp_path / "dl2"), prefix="t1/raw/a.csv", show_progress=False)
    assert (tmp_path / "dl2" / "t1" / "raw" / "a.csv").read_text() == "x,y\n1,2\n"
    ds.upload_files([str(data_dir / "a.csv")], target_path="t1/raw", overwrite=True, show_progress=False)
    ds.download(str(tmp_path / "dl3"), prefix="t1/raw/a.csv", show_progress=False)
    assert (tmp_path / "dl3" / "t1" / "raw" / "a.csv").read_text() == "changed\n"

    with pytest.raises(DatastoreError, match="register_azure_blob_container.*upload"):
        Datastore.register_azure_blob_container(workspace, "mystore", "container", "account", account_key="k")
    with pytest.raises(DatastoreError, match="'nope' is not registered.*workspaceblobstore"):
        Datastore.get(workspace, "nope")
    with pytest.raises(DatastoreError, match=r"leaves the datastore"):
        ds.path("../x")


def test_references_and_datapaths_reach_the_step_as_local_paths(workspace, data_dir, tmp_path):
    ds = workspace.get_default_datastore()
    ds.upload(str(data_dir), "t2/raw", overwrite=True, show_progress=False)
    src = tmp_path / "src"
    write_script(src, "read.py", READER)
    folder = ds.path("t2/raw").as_mount()
    one_file = DataReference(ds, data_reference_name="one", path_on_datastore="t2/raw/a.csv").as_download()
    bound = (DataPath(ds, "t2/raw/sub", name="subdir"), DataPathComputeBinding(mode="mount"))
    step = PythonScriptStep("read.py", name="read", source_directory=src,
                            arguments=[folder, one_file, bound, str(folder)],
                            inputs=[folder, one_file, bound])
    run = Experiment(workspace, f"ds-{tmp_path.name}").submit(Pipeline(workspace, [step]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED
    out = run.find_step_run("read")[0].get_stdout_log()
    assert "FILE a.csv x,y\n1,2" in out.replace("\r", "") or "FILE a.csv x,y" in out
    assert "FILE sub/b.txt bee" in out and "ONE a.csv x,y" in out
    assert out.count("FILE b.txt bee") == 1  # the DataPath's folder
    assert out.count("FILE sub/b.txt bee") == 2  # str(reference): v1's $AZUREML_DATAREFERENCE_raw
    # each reference is an MLflow dataset input of the step run
    step_id = run.find_step_run("read")[0].id
    body = workspace.rest.transport.get_json("/api/2.0/mlflow/runs/get", {"run_id": step_id})
    inputs = body["run"].get("inputs", {}).get("dataset_inputs", [])
    names = sorted(i["dataset"]["name"] for i in inputs)
    assert names == ["one", "raw", "subdir"]
    source = json.loads(next(i for i in inputs if i["dataset"]["name"] == "raw")["dataset"]["source"])
    assert source["uri"] == "datastore://workspaceblobstore/t2/raw"
    details = run.find_step_run("read")[0].get_details()["inputDatasets"]
    assert sorted(d["consumptionDetails"]["inputName"] for d in details) == ["one", "raw", "subdir"]


def test_a_step_on_a_dask_worker_gets_its_data_through_the_server(mlflow_server, data_dir, tmp_path):
    """The workspace has no local artifact folder (a remote server, as every worker sees it), and the
    notebook's copy of the data is gone before the step runs: the worker can only have read it from
    the tracking server."""
    import shutil

    distributed = pytest.importorskip("distributed")
    from steprun_widgets import Dataset

    workspace = Workspace(mlflow_server.url)
    src = tmp_path / "src"
    write_script(src, "read.py", READER)
    ds = workspace.get_default_datastore()
    ds.upload(str(data_dir), "t3/raw", overwrite=True, show_progress=False)
    local = tmp_path / "local-only"
    shutil.copytree(data_dir, local)
    files = Dataset.File.from_files(str(local)).as_named_input("local_files").as_download()
    ref = ds.path("t3/raw/sub", data_reference_name="sub")
    step = PythonScriptStep("read.py", name="read", source_directory=src, arguments=[files, ref],
                            inputs=[ref])
    cluster = distributed.LocalCluster(n_workers=1, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        run = Experiment(workspace, f"dask-{tmp_path.name}").submit(Pipeline(workspace, [step]),
                                                                     executor=client)
        shutil.rmtree(local)  # uploaded at submit: the step must not need it
        assert run.wait_for_completion(show_output=False, timeout_seconds=180) == layout.FINISHED
    finally:
        client.close()
        cluster.close()
    out = run.find_step_run("read")[0].get_stdout_log()
    assert "FILE a.csv x,y" in out and "FILE sub/b.txt bee" in out and "FILE b.txt bee" in out


def test_reuse_follows_the_datastore_files(workspace, data_dir, tmp_path):
    ds = workspace.get_default_datastore()
    ds.upload(str(data_dir), "t4/raw", overwrite=True, show_progress=False)
    src = tmp_path / "src"
    write_script(src, "read.py", READER)
    experiment = Experiment(workspace, f"reuse-{tmp_path.name}")

    def submit():
        ref = ds.path("t4/raw")
        step = PythonScriptStep("read.py", name="read", source_directory=src, arguments=[ref], inputs=[ref])
        run = experiment.submit(Pipeline(workspace, [step]))
        assert run.wait_for_completion(show_output=False, timeout_seconds=120) == layout.FINISHED
        return run.find_step_run("read")[0]

    first = submit()
    assert submit()._is_reused  # the same files: the earlier results stand
    (data_dir / "a.csv").write_text("x,y\n1,2\n3,4\n")
    ds.upload(str(data_dir), "t4/raw", overwrite=True, show_progress=False)
    third = submit()
    assert not third._is_reused and third.id != first.id
    assert "FILE a.csv x,y\n1,2\n3,4" in third.get_stdout_log()
