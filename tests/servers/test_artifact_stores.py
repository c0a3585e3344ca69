"""Artifact stores in S3, against a real S3 API (moto's server on loopback) and real MLflow servers:

* a server that does not proxy artifacts (``--no-serve-artifacts --default-artifact-root s3://...``):
  the runner writes logs and outputs straight into S3 and the client reads them back from there,
  as MLflow's own clients do; without s3fs, ``submit()`` refuses before any run exists and readers
  say what to install, on logs and outputs only;
* a server that proxies an S3 store (``--artifacts-destination s3://...``): a log not written yet
  is absent (the server's HTTP 500 with S3's "Not Found"), read as empty, never an error.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from steprun_widgets import Experiment, PipelineRun, Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.waiting import wait_for_runs
from steprun_widgets.errors import ArtifactStoreError
from steprun_widgets.local import PipelineData, PythonScriptStep
from tests.local.test_metrics_write import tiny_png
from tests.mlflow_server import MlflowServer
from tests.runlayout import RunLayout
from tests.servers.helpers import make_other_tool_runs
from tests.servers.s3 import MotoServer
from tests.support import submit, watch_widget, write_script

pytestmark = pytest.mark.servers
BUCKET = "steprun-stores"
REPO = str(Path(__file__).resolve().parents[2])


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    server.create_bucket(BUCKET)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def s3_env(moto, monkeypatch):
    """This process (and the runner it starts) reaches moto as MLflow's clients would."""
    for name, value in moto.env.items():
        monkeypatch.setenv(name, value)
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def direct_server(moto, tmp_path_factory):
    """A server that does not proxy: its runs' artifact URIs are ``s3://steprun-stores/direct/...``."""
    server = MlflowServer(tmp_path_factory.mktemp("direct"), env=moto.env,
                          args=("--no-serve-artifacts", "--default-artifact-root", f"s3://{BUCKET}/direct"))
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def proxied_server(moto, tmp_path_factory):
    """A server that proxies artifacts it keeps in S3 (``mlflow-artifacts:`` URIs for the client)."""
    server = MlflowServer(tmp_path_factory.mktemp("proxied"), env=moto.env,
                          args=("--artifacts-destination", f"s3://{BUCKET}/proxied"))
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def other_runs(direct_server, moto):
    """A pipeline written by MLflow's own client, which puts its artifacts into S3 itself."""
    saved = dict(os.environ)
    os.environ.update(moto.env)
    try:
        return make_other_tool_runs(direct_server.url, "other-tool-in-s3")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _steps(tmp_path):
    src = write_script(tmp_path / "src", "prep.py", """
        import pathlib, sys
        for i in range(50):
            print(f"prep line {i} ✓")
        print("prep warns", file=sys.stderr)
        out = pathlib.Path(sys.argv[1])
        (out / "nested").mkdir()
        (out / "data.csv").write_text("a,b\\n1,2\\n")
        (out / "nested" / "blob.bin").write_bytes(bytes(range(256)) * 4)
        from steprun_widgets import Run
        pathlib.Path("pic.png").write_bytes(bytes.fromhex(sys.argv[2]))
        Run.get_context().log_image("curve", path="pic.png")
        Run.get_context().log("loss", 0.5)
    """)
    write_script(src, "train.py", """
        import pathlib, sys
        print("train read", (pathlib.Path(sys.argv[1]) / "data.csv").read_text().splitlines())
    """)
    write_script(src, "quiet.py", "print('no outputs here')\n")
    data = PipelineData("data")
    return [PythonScriptStep("prep.py", arguments=[data, tiny_png().hex()], outputs=[data],
                             source_directory=src),
            PythonScriptStep("train.py", arguments=[data], inputs=[data], source_directory=src),
            PythonScriptStep("quiet.py", source_directory=src)]


def test_a_pipeline_stores_its_logs_and_outputs_in_s3_itself(direct_server, moto, experiment_name,
                                                              tmp_path):
    workspace = Workspace(direct_server.url)
    run = submit(Experiment(workspace, experiment_name), _steps(tmp_path))
    out = io.StringIO()
    assert wait_for_runs(run, None, True, 120, True, out=out) == layout.FINISHED, out.getvalue()
    shown = out.getvalue()
    assert "[prep] prep line 49 ✓" in shown and "cannot be read" not in shown
    prep, train, quiet = (run.find_step_run(n)[0] for n in ("prep", "train", "quiet"))
    assert prep._record().artifact_uri.startswith(f"s3://{BUCKET}/direct/")

    # every log of every step is in S3, written by the runner; read back through s3fs
    assert prep.get_stdout_log() == "".join(f"prep line {i} ✓\n" for i in range(50))
    assert prep.get_stderr_log() == "prep warns\n"
    assert "train read ['a,b', '1,2']" in train.get_stdout_log()
    assert quiet.get_stdout_log() == "no outputs here\n"  # a step without outputs keeps its logs
    for step in (prep, train, quiet):
        prefix = step._record().artifact_uri.split(f"s3://{BUCKET}/", 1)[1]
        stored = moto.keys(BUCKET, prefix)
        assert {f"{prefix}/{p}" for p in layout.LOG_FILES.values()} <= set(stored), sorted(stored)
        assert "Script ended with exit code 0" in step.get_job_log()

    # outputs: listed, sized and downloaded from S3
    output = prep.get_output("data")
    assert {f.path for f in output.files} == {"outputs/data/data.csv", "outputs/data/nested/blob.bin"}
    assert output.size == 8 + 1024
    folder = prep.get_output_data("data").download(local_path=tmp_path / "dl", show_progress=False)
    assert Path(folder, "nested", "blob.bin").read_bytes() == bytes(range(256)) * 4

    # an image logged by the step (Run.log_image) is in S3 too
    assert workspace.rest.read_range(prep._record(), layout.image_path("curve"), 0) == (
        tiny_png(), len(tiny_png()))
    assert prep.get_metrics() == {"loss": 0.5}

    # the widget, kernel side: logs, image and outputs, no error
    widget, _ = watch_widget(prep)
    try:
        assert widget.status == layout.FINISHED and widget.error == "" and widget.connection == "ok"
        assert "prep line 49 ✓" in widget.logs["stdout"]["tail"]
        assert [(i["name"], i["src"][:22]) for i in widget.images] == [("curve", "data:image/png;base64,")]
        widget._list_outputs()
        assert [o["name"] for o in widget.outputs] == ["data"]
    finally:
        widget.close()
    workspace.transport.close()


def test_runs_of_mlflows_own_client_read_from_s3(direct_server, other_runs, tmp_path):
    workspace = Workspace(direct_server.url)
    run = PipelineRun(Experiment(workspace, other_runs["experiment"]), other_runs["pipeline"])
    prep = run.get_step("prep")
    assert prep._record().artifact_uri.startswith("s3://")
    assert prep.get_stdout_log() == "reading data\nprep done ✓\n"
    assert prep.get_stderr_log() == "a warning\n"
    assert set(prep.get_outputs()) == {"data.csv", "model"}
    got = prep.get_output_data("model").download(local_path=tmp_path, show_progress=False, flat=True)
    assert Path(got, "weights", "w.bin").read_bytes() == bytes(range(256))
    assert run.get_step("empty").get_stdout_log() == ""  # no logs at all: empty, not an error
    workspace.transport.close()


_WITHOUT_S3FS = textwrap.dedent("""
    import json, sys
    sys.modules["s3fs"] = None  # as if the extra were not installed
    from steprun_widgets import Experiment, PipelineRun, Workspace
    from steprun_widgets.errors import ArtifactStoreError
    from steprun_widgets.local import Pipeline, PythonScriptStep
    url, experiment, source, pipeline_id = sys.argv[1:5]
    ws = Workspace(url)
    said = {}
    try:
        steps = [PythonScriptStep("quiet.py", source_directory=source)]
        Experiment(ws, experiment).submit(Pipeline(ws, steps))
    except ArtifactStoreError as exc:
        said["submit"] = str(exc)
    said["runs"] = [r.run_id for r in ws.rest.search_runs([ws.rest.get_or_create_experiment(experiment)])]
    step = PipelineRun(Experiment(ws, "other-tool-in-s3"), pipeline_id).get_step("prep")
    said["status"] = step.get_status()
    said["details"] = step.get_details()["artifactsError"]
    from steprun_widgets import StepRunWidget
    widget = StepRunWidget(step, poll=False)
    said["widget"] = [widget.status, widget.connection, widget.error]
    widget.close()
    for name, call in (("log", step.get_stdout_log), ("outputs", step.get_outputs)):
        try:
            call()
        except ArtifactStoreError as exc:
            said[name] = str(exc)
    print(json.dumps(said))
""")


def test_without_s3fs_submit_refuses_before_any_step_runs(direct_server, other_runs, experiment_name,
                                                          tmp_path):
    src = write_script(tmp_path / "src", "quiet.py", "open('ran', 'w').write('yes')\n")
    done = subprocess.run([sys.executable, "-c", _WITHOUT_S3FS, direct_server.url, experiment_name,
                           str(src), other_runs["pipeline"]],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": REPO})
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    install = 'pip install "steprun-widgets[s3]"'
    assert install in said["submit"] and "--serve-artifacts" in said["submit"], said
    assert f"s3://{BUCKET}/direct/" in said["submit"]
    assert said["runs"] == [] and not (src / "ran").exists()  # refused before any run existed
    # readers: status and details work; logs and outputs say what to install
    assert said["status"] == layout.FINISHED
    status, connection, error = said["widget"]
    assert (status, connection) == (layout.FINISHED, "ok") and install in error, said["widget"]
    for name in ("log", "outputs", "details"):
        assert install in said[name] and "--serve-artifacts" in said[name], (name, said)


def test_a_missing_log_of_a_proxied_s3_store_is_empty(proxied_server, experiment_name):
    workspace = Workspace(proxied_server.url)
    runs = RunLayout(workspace, experiment_name)
    pipe = runs.pipeline(steps=["prep", "done"], heartbeat=True)
    prep = runs.step(pipe, "prep")  # running, nothing logged yet
    runs.heartbeat(prep)
    done = runs.step(pipe, "done", status=layout.FINISHED)
    runs.log(done, "stdout", "done says hi\n")
    run = PipelineRun(Experiment(workspace, experiment_name), pipe.run_id)
    step = run.get_step("prep")
    # the server answers HTTP 500 with S3's "Not Found": absent, so empty
    assert step.get_stdout_log() == "" and step.get_job_log() == ""
    assert workspace.rest.read_tail(step._record(), layout.LOG_FILES["stderr"], 100) == b""
    assert run.get_step("done").get_stdout_log() == "done says hi\n"
    assert step.get_outputs() == {}

    widget, _ = watch_widget(step)
    try:
        assert widget.status == layout.RUNNING and widget.connection == "ok"
        assert widget.error == "", widget.error
        assert all(state["tail"] == "" for state in widget.logs.values())
    finally:
        widget.close()
    runs.log(prep, "stdout", "now it is there\n")
    assert step.get_stdout_log() == "now it is there\n"
    workspace.transport.close()


def test_an_unreachable_store_fails_logs_and_outputs_only(direct_server, other_runs, experiment_name,
                                                          monkeypatch, tmp_path):
    """The store's endpoint does not answer (nothing listens there): submit refuses naming the
    store; reading fails on logs and outputs only, naming the run, its store and the endpoint."""
    from tests.mlflow_server import free_port

    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    workspace = Workspace(direct_server.url)
    src = write_script(tmp_path / "src", "quiet.py", "print('never')\n")
    experiment = Experiment(workspace, experiment_name)
    with pytest.raises(ArtifactStoreError, match=rf"Cannot run a pipeline here: .* this machine could "
                                                 rf"not reach the artifact store s3://{BUCKET}/direct/"):
        submit(experiment, [PythonScriptStep("quiet.py", source_directory=src)])
    assert workspace.rest.search_runs([experiment.ensure()]) == []

    other = PipelineRun(Experiment(workspace, other_runs["experiment"]), other_runs["pipeline"])
    step = other.get_step("prep")
    assert step.get_status() == layout.FINISHED
    # (a run of another tool: its logs/ is listed first)
    with pytest.raises(ArtifactStoreError, match=rf"could not list the artifact store of run '{step.id}' "
                                                 rf"\(s3://{BUCKET}/direct/.*'logs'.*127\.0\.0\.1"):
        step.get_stdout_log()
    with pytest.raises(ArtifactStoreError, match=step.id):
        step.get_outputs()
    assert "could not list the artifact store" in step.get_details()["artifactsError"]
    workspace.transport.close()


def test_a_runner_that_cannot_write_the_store_never_ends_a_step_finished(direct_server, experiment_name,
                                                                          monkeypatch, tmp_path):
    """The notebook has s3fs, the runner (a worker without the extra) has not: the step's script
    runs, but its logs cannot be stored, so it ends Failed saying so, not Finished without logs."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['s3fs'] = None\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH"))
                                                     if p))
    workspace = Workspace(direct_server.url)
    src = write_script(tmp_path / "src", "quiet.py", "print('no outputs here')\n")
    run = submit(Experiment(workspace, experiment_name), [PythonScriptStep("quiet.py", source_directory=src)])
    assert run.wait_for_completion(show_output=False, timeout_seconds=120,
                                   raise_on_error=False) == layout.FAILED
    record = run.find_step_run("quiet")[0]._record(refresh=True)
    assert record.azureml_status() == layout.FAILED
    error = record.tags[layout.TAG_ERROR]
    assert "could not be uploaded" in error and 'pip install "steprun-widgets[s3]"' in error, error
    workspace.transport.close()
