"""Output file names: unicode and spaces download fine; hostile server paths are refused.

The friendly names come through the real runner (a step writes them); the hostile ones come from a
fake MLflow server whose artifact listing holds ``..``, absolute and drive paths, because a real
server never stores them (see test_bad_input for the server's own refusal).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from steprun_widgets import Experiment, StepRun, Workspace
from steprun_widgets.core import layout
from steprun_widgets.errors import StepRunError
from steprun_widgets.local import PipelineData
from steprun_widgets.widgets.downloads import ChunkSender, stream_output
from tests.reliability.helpers import Recorder, json_answer, script_step, submit, wait_terminal
from tests.runlayout import RunLayout

FRIENDLY = {
    "a b.txt": b"spaces",
    "ünïcødé ✓ 名前.txt": "unicode ✓".encode(),
    "-leading-dash.csv": b"dash",
    ".hidden": b"dot",
    "..double..dots..txt": b"dots",
    "sub dir/ñ ested/deep file.bin": bytes(range(256)),
    "emoji 🙂.txt": "🙂".encode(),
    "quote'and\"double.txt": b"quotes",
    "<b>not html</b>.txt": b"angle",
}


def test_unicode_and_space_names_download_through_client_and_widget(experiment, tmp_path):
    out = PipelineData("files")
    files_json = json.dumps({k: list(v) for k, v in FRIENDLY.items()})
    step = script_step(tmp_path, "writer", f"""
        import json, sys
        from pathlib import Path
        out = Path(sys.argv[1])
        for rel, data in json.loads({files_json!r}).items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(bytes(data))
        print("wrote", len(list(out.rglob("*"))))
    """, outputs=(out,))
    run = submit(experiment, [step])
    assert wait_terminal(run) == layout.FINISHED
    writer = run.find_step_run("writer")[0]
    output = writer.get_output("files")
    assert output.file_count == len(FRIENDLY)

    folder = Path(writer.get_output_data("files").download(local_path=tmp_path / "dl", show_progress=False))
    for rel, data in FRIENDLY.items():
        assert (folder / rel).read_bytes() == data, rel
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == \
        sorted(FRIENDLY)

    recorder = Recorder()
    stream_output(writer, "files", "r1", recorder, ChunkSender(recorder, "r1", window=1 << 30))
    assert recorder.of("download_end"), recorder.of("download_error")
    with zipfile.ZipFile(io.BytesIO(b"".join(recorder.chunks["r1"]))) as archive:
        got = {n: archive.read(n) for n in archive.namelist()}
    assert got == {f"files/{k}": v for k, v in FRIENDLY.items()}


# --- hostile paths from a server -------------------------------------------------------------------
HOSTILE_PATHS = [
    "outputs/o/../../escape.txt",
    "outputs/o/../o/../../../../tmp/escape.txt",
    "outputs/o//etc/passwd",
    "outputs/o/.",
    "outputs/o/C:\\Windows\\evil.dll",
    "outputs/o/sub\\..\\..\\escape.txt",
    "outputs/o/nul\x00byte.txt",
    "outputs/other/not-mine.txt",
    "/etc/passwd",
]
RUN_ID = "0123456789abcdef"


def _fake_mlflow(hostile_path: str):
    """Answers runs/get and artifacts/list like MLflow, listing one hostile file in output 'o'."""

    def answer(handler):
        url = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.endswith("/runs/get"):
            return json_answer({"run": {"info": {"run_id": RUN_ID, "experiment_id": "1", "status": "FINISHED",
                                                 "artifact_uri": f"mlflow-artifacts:/1/{RUN_ID}/artifacts"},
                                        "data": {"tags": []}}})
        if url.path.endswith("/artifacts/list"):
            path = query.get("path", "")
            if path == "outputs":
                return json_answer({"files": [{"path": "outputs/o", "is_dir": True}]})
            if path == "outputs/o":
                return json_answer({"files": [{"path": "outputs/o/fine.txt", "is_dir": False, "file_size": 4},
                                              {"path": hostile_path, "is_dir": False, "file_size": 4}]})
            return json_answer({"files": []})
        return 200, "application/octet-stream", b"evil"

    return answer


@pytest.mark.parametrize("hostile", HOSTILE_PATHS)
def test_hostile_server_paths_are_refused_and_nothing_is_written(hostile, fake_server, tmp_path):
    server = fake_server(_fake_mlflow(hostile))
    ws = Workspace(server.url, retries=1, timeout=(1, 2))
    step = StepRun(Experiment(ws, "exp"), RUN_ID, "p", None)
    dest = tmp_path / "inside" / "dest"
    dest.mkdir(parents=True)
    with pytest.raises(StepRunError) as info:
        step.get_output_data("o").download(local_path=dest, show_progress=False)
    assert "'o'" in str(info.value) and "refusing" in str(info.value)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert written == ["inside", "inside/dest"], written
    assert not any(method == "GET" and "/mlflow-artifacts/" in path for method, path in server.requests)

    recorder = Recorder()
    stream_output(step, "o", "r1", recorder, ChunkSender(recorder, "r1"))
    errors = recorder.of("download_error")
    assert errors and "refusing" in errors[0]["message"] and not recorder.of("download_chunk")


def test_lone_hostile_file_output_from_another_tool_is_refused(fake_server, tmp_path, workspace,
                                                               experiment_name):
    """A run of another tool with a file right under outputs/ named like a path trick."""
    runs = RunLayout(workspace, experiment_name)
    foreign = runs.foreign_run(status=layout.FINISHED)
    runs.artifact(foreign, "outputs/..hidden", b"fine")
    step = StepRun(Experiment(workspace, experiment_name), foreign.run_id, foreign.run_id, None)
    target = step.get_output_data("..hidden").download(local_path=tmp_path, show_progress=False)
    assert Path(target).read_bytes() == b"fine"
    assert Path(target).parent == tmp_path / "azureml" / foreign.run_id  # Azure ML's layout
