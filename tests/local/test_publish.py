"""Publishing: a pipeline published in one process runs from another, elsewhere, with other parameters.

The publisher is a real subprocess in its own folder; the test process then submits from another
folder after the source folder is gone, so the steps can only run from the snapshots the tracking
server holds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from steprun_widgets import Experiment
from steprun_widgets.core import layout
from steprun_widgets.errors import RunNotFoundError, V1NotSupportedError
from steprun_widgets.local import (
    Pipeline,
    PipelineEndpoint,
    PipelineParameter,
    PublishedPipeline,
    PublishedPipelineDisabledError,
    PythonScriptStep,
    Schedule,
    ScheduleRecurrence,
)
from tests.local.conftest import make_workspace
from tests.support import stop_leftovers

REPO = Path(__file__).resolve().parents[2]

PUBLISHER = """
import json, sys
from steprun_widgets import Workspace
from steprun_widgets.local import Pipeline, PipelineData, PipelineParameter, PythonScriptStep

ws = Workspace(sys.argv[1])
greeting = PipelineParameter("greeting", default_value="hello")
times = PipelineParameter("times", default_value=1)
said = PipelineData("said")
say = PythonScriptStep("say.py", name="say", arguments=["--greeting", greeting, "--times", times,
                       "--out", said], outputs=[said], source_directory="src")
shout = PythonScriptStep("shout.py", name="shout", arguments=[said], inputs=[said],
                         source_directory="src")
published = Pipeline(ws, [shout]).publish(name=sys.argv[2], description="says things", version="1.0")
print(json.dumps({"id": published.id}))
"""

SAY = """
import argparse, os
from helper import decorate
p = argparse.ArgumentParser()
p.add_argument("--greeting"); p.add_argument("--times", type=int); p.add_argument("--out")
a = p.parse_args()
text = decorate(" ".join([a.greeting] * a.times))
print("saying", text)
os.makedirs(a.out, exist_ok=True)
open(os.path.join(a.out, "said.txt"), "w").write(text)
"""

SHOUT = """
import os, sys
print("SHOUT", open(os.path.join(sys.argv[1], "said.txt")).read().upper())
"""


def _publisher_folder(root: Path) -> Path:
    src = root / "src"
    src.mkdir(parents=True)
    (src / "say.py").write_text(SAY)
    (src / "shout.py").write_text(SHOUT)
    (src / "helper.py").write_text("def decorate(text):\n    return f'<{text}>'\n")
    (src / "data").mkdir()
    (src / "data" / "big.bin").write_bytes(b"\0" * 4096)  # left out by .amlignore
    (src / ".amlignore").write_text("data/\n*.log\n")
    (src / "run.log").write_text("not part of the code\n")
    (root / "publish.py").write_text(PUBLISHER)
    return root


def _publish_in_subprocess(root: Path, tracking_uri: str, name: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "publish.py", tracking_uri, name], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])["id"]


@pytest.fixture
def published_setup(mlflow_server, tmp_path, monkeypatch, request):
    """A pipeline published by another process, whose source folder is then removed; the test
    process works from another folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the snapshot cache of a remote server
    name = f"greeter-{request.node.name[:40]}"
    publisher = _publisher_folder(tmp_path / "publisher")
    published_id = _publish_in_subprocess(publisher, mlflow_server.url, name)
    shutil.rmtree(publisher)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return name, published_id


def test_published_in_one_process_runs_from_another_with_other_parameters(
        mlflow_server, published_setup, tmp_path, capsys):
    name, published_id = published_setup
    ws = make_workspace(mlflow_server, "append")  # the runner appends logs, snapshots under its root
    experiment = Experiment(ws, f"published-{name}")
    try:
        published = PublishedPipeline.get(ws, published_id)
        assert (published.name, published.version, published.status) == (name, "1.0", "Active")
        assert published.description == "says things"
        assert published.parameters == {"greeting": "hello", "times": 1}
        assert published.total_run_steps == 2
        assert published_id in [p.id for p in PublishedPipeline.list(ws)]
        definition = published.definition()
        say = next(s for s in definition["steps"] if s["name"] == "say")
        assert say["arguments"] == ["--greeting", {"parameter": "greeting"}, "--times",
                                    {"parameter": "times"}, "--out", {"data": "said"}]

        run = published.submit(ws, experiment.name, pipeline_parameters={"greeting": "bonjour", "times": 2})
        assert run.wait_for_completion(show_output=True, timeout_seconds=120) == layout.FINISHED
        assert "SHOUT <BONJOUR BONJOUR>" in capsys.readouterr().out
        step = run.find_step_run("say")[0]
        got = step.get_output_data("said").download(local_path=tmp_path / "dl", show_progress=False)
        assert Path(got, "said.txt").read_text() == "<bonjour bonjour>"
        assert run.get_tags()[layout.TAG_PUBLISHED_FROM] == published_id
        assert run.name == name

        # the snapshot held only what .amlignore lets through, unpacked into a private folder
        cache = ws.local_root / "snapshots" / say["source"]
        assert sorted(p.name for p in cache.iterdir()) == [".amlignore", "helper.py", "say.py", "shout.py"]
        assert (cache.parent.stat().st_mode & 0o077) == 0

        # defaults when no parameter is given; the same code again is reused for the same values
        again = experiment.submit(published)
        assert again.wait_for_completion(timeout_seconds=120) == layout.FINISHED
        assert "SHOUT <HELLO>" in again.find_step_run("shout")[0].get_stdout_log()

        with pytest.raises(V1NotSupportedError, match=r"no REST endpoint.*steprun-widgets pipeline submit"):
            published.endpoint  # noqa: B018
        published.disable()
        assert published_id not in [p.id for p in PublishedPipeline.list(ws)]
        with pytest.raises(PublishedPipelineDisabledError, match=rf"{name}.*disabled.*enable\(\)"):
            PublishedPipeline.get(ws, published_id).submit(ws, experiment.name)
        published.enable()
        assert PublishedPipeline.get(ws, published_id).status == "Active"
        with pytest.raises(RunNotFoundError, match="No published pipeline has id"):
            PublishedPipeline.get(ws, run.id)  # a pipeline run is no published pipeline
    finally:
        stop_leftovers(experiment)


def test_endpoint_versions_default_and_disable(mlflow_server, tmp_path, monkeypatch, request):
    ws = make_workspace(mlflow_server, "append")
    src = tmp_path / "src"
    src.mkdir()
    (src / "echo.py").write_text("import sys\nprint('version', sys.argv[1], 'value', sys.argv[2])\n")
    value = PipelineParameter("value", default_value=0)

    def pipeline(tag: str) -> Pipeline:
        return Pipeline(ws, [PythonScriptStep("echo.py", name="echo", arguments=[tag, value],
                                              source_directory=src)])

    name = f"ep-{request.node.name[:40]}"
    experiment = Experiment(ws, name)
    try:
        first = pipeline("A").publish(name=name, version="A")
        endpoint = PipelineEndpoint.publish(ws, name, "versions", first)
        assert endpoint.default_version == "0"
        with pytest.raises(Exception, match="exists already"):
            PipelineEndpoint.publish(ws, name, "again", first)
        assert endpoint.add(pipeline("B").publish(name=name, version="B")) == "1"
        assert endpoint.default_version == "0"
        assert endpoint.add_default(pipeline("C")) == "2"  # a Pipeline is published on the way
        found = PipelineEndpoint.get(ws, name=name)
        assert found.id == endpoint.id and found.default_version == "2"
        assert [v.version for v in found.list_versions()] == ["0", "1", "2"]

        run = found.submit(name, pipeline_parameters={"value": 7})
        assert run.wait_for_completion(timeout_seconds=120) == layout.FINISHED
        assert "version C value 7" in run.find_step_run("echo")[0].get_stdout_log()
        run = found.submit(name, pipeline_version="1")
        assert run.wait_for_completion(timeout_seconds=120) == layout.FINISHED
        assert "version B value 0" in run.find_step_run("echo")[0].get_stdout_log()
        assert run.get_tags()[layout.TAG_SUBMITTED_ENDPOINT] == name

        found.set_default_version(0)
        assert PipelineEndpoint.get(ws, id=endpoint.id).get_pipeline().id == first.id
        with pytest.raises(Exception, match=r"no version '9' \(its versions: 0, 1, 2\)"):
            found.set_default_version("9")

        found.disable()
        with pytest.raises(PublishedPipelineDisabledError, match=rf"endpoint {name!r}.*disabled"):
            PipelineEndpoint.get(ws, name=name).submit(name)
        assert endpoint.id not in [e.id for e in PipelineEndpoint.list(ws)]
        found.enable()
        with pytest.raises(V1NotSupportedError, match="no REST endpoint"):
            found.endpoint  # noqa: B018
    finally:
        stop_leftovers(experiment)


def test_cli_submits_by_name_and_schedule_shows_the_recipe(mlflow_server, published_setup, tmp_path):
    name, published_id = published_setup
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path / "cli-cache")}
    cli = [sys.executable, "-m", "steprun_widgets.cli", "pipeline"]
    done = subprocess.run([*cli, "submit", name, "--param", "times=3", "--param", "greeting=hej",
                           "--experiment", f"cli-{name}", "--wait", "--tracking-uri", mlflow_server.url],
                          cwd=tmp_path / "elsewhere", env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert f"submitted published pipeline {name!r} ({published_id})" in done.stdout
    assert "SHOUT <HEJ HEJ HEJ>" in done.stdout

    bad = subprocess.run([*cli, "submit", name, "--param", "times=many", "--tracking-uri", mlflow_server.url],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "'many' is not a int like its default 1" in bad.stderr
    missing = subprocess.run([*cli, "submit", "no-such-pipeline", "--tracking-uri", mlflow_server.url],
                             env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "'no-such-pipeline'" in missing.stderr
    listed = subprocess.run([*cli, "list", "--tracking-uri", mlflow_server.url], env=env,
                            capture_output=True, text=True, timeout=60)
    assert f"{published_id}  {name}  version=1.0  Active" in listed.stdout

    for call in (lambda: Schedule.create(None, name="nightly", pipeline_id=published_id,
                                         experiment_name="e", recurrence=None),
                 lambda: ScheduleRecurrence(frequency="Day", interval=1)):
        with pytest.raises(V1NotSupportedError, match=r"(?s)crontab.*steprun-widgets pipeline submit NAME"):
            call()


def test_snapshot_refuses_a_large_folder_and_a_damaged_archive(tmp_path, monkeypatch):
    from steprun_widgets.local import source_snapshot

    src = tmp_path / "proj"
    (src / "models").mkdir(parents=True)
    (src / "train.py").write_text("print(1)\n")
    (src / "models" / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    monkeypatch.setenv(source_snapshot.MAX_MB_ENV, "2")
    with pytest.raises(source_snapshot.SnapshotError) as caught:
        source_snapshot.take(src)
    message = caught.value.message
    assert str(src) in message and "3.0 MB" in message and "models/weights.bin" in message
    assert ".amlignore" in message
    (src / ".gitignore").write_text("models/\n")  # .gitignore counts when there is no .amlignore
    snap = source_snapshot.take(src)
    assert [f for f, _ in snap.files] == [".gitignore", "train.py"]

    archive = source_snapshot.pack(snap)
    out = source_snapshot.unpack(archive, tmp_path / "out", snap.digest)
    assert (out / "train.py").read_text() == "print(1)\n"
    with pytest.raises(source_snapshot.SnapshotError, match="damaged"):
        source_snapshot.unpack(archive, tmp_path / "out2", "0" * 64)
    assert not (tmp_path / "out2").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out2")] == []


def test_pipeline_run_publish_pipeline_in_the_submitting_process(mlflow_server, tmp_path, request):
    ws = make_workspace(mlflow_server, "append")
    src = tmp_path / "src"
    src.mkdir()
    (src / "hi.py").write_text("print('hi')\n")
    experiment = Experiment(ws, f"pp-{request.node.name[:40]}")
    try:
        run = experiment.submit(Pipeline(ws, [PythonScriptStep("hi.py", source_directory=src)]))
        published = run.publish_pipeline(name=f"from-run-{request.node.name[:30]}", description="d",
                                         version="2")
        assert PublishedPipeline.get(ws, published.id).version == "2"
        assert run.wait_for_completion(timeout_seconds=120) == layout.FINISHED
        from steprun_widgets import PipelineRun

        with pytest.raises(Exception, match="publish the Pipeline object"):
            PipelineRun(experiment, run.id).publish_pipeline(name="x")
    finally:
        stop_leftovers(experiment)


def test_snapshot_stored_once_and_unpacked_once_by_concurrent_submitters(mlflow_server, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from steprun_widgets import Workspace
    from steprun_widgets.local import source_snapshot

    ws = Workspace(mlflow_server.url)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text(f"print({os.getpid()}, {str(tmp_path)!r})\n")  # content of this test only
    snap = source_snapshot.take(src)
    first = source_snapshot.store(ws.rest, snap)
    assert source_snapshot.store(ws.rest, source_snapshot.take(src)) == first  # once per digest
    cache = tmp_path / "cache"
    cache.mkdir()
    with ThreadPoolExecutor(4) as pool:
        folders = list(pool.map(lambda _: source_snapshot.materialize(ws.rest, snap.digest, cache), range(4)))
    assert folders == [cache / snap.digest] * 4
    assert (cache / snap.digest / "a.py").read_text() == (src / "a.py").read_text()
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == [
        snap.digest, f"{snap.digest}.ok"]  # no temporary folder or download left behind
