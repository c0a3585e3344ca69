"""Downloads of step outputs: nested folders, overwrite, temp-name-then-rename, path safety."""

from __future__ import annotations

import os
import signal
from pathlib import Path, PurePosixPath

import pytest

from steprun_widgets import Experiment, PipelineRun, Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.outputs import relative_output_path, safe_target, write_atomically
from steprun_widgets.errors import ServiceError, StepRunError
from tests.mlflow_server import MlflowServer
from tests.runlayout import RunLayout

NESTED = {
    "top.txt": "top\n",
    "sub/mid.bin": bytes(range(256)) * 3,
    "sub/deeper/leaf.txt": "leaf ✓\n",
    "sub/deeper/empty.txt": b"",
}


def _files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _as_bytes(files):
    return {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}


@pytest.fixture
def model_step(experiment, runs):
    pipe = runs.pipeline(steps=["train"])
    record = runs.step(pipe, "train", status=layout.FINISHED)
    runs.output(record, "model", NESTED)
    return PipelineRun(experiment, pipe.run_id).find_step_run("train")[0]


def test_download_nested_folders(model_step, tmp_path):
    ref = model_step.get_output_data("model")
    folder = ref.download(local_path=tmp_path / "dl", show_progress=False)
    # Azure ML's layout: <local_path>/<path_on_datastore>/...
    assert ref.path_on_datastore == f"azureml/{model_step.id}/model"
    assert folder == str(tmp_path / "dl" / "azureml" / model_step.id / "model")
    assert _files_under(Path(folder)) == _as_bytes(NESTED)
    assert not list(tmp_path.rglob("*.part"))  # temp names were all renamed


def test_download_overwrite_false_refuses_and_writes_nothing(model_step, tmp_path):
    ref = model_step.get_output_data("model")
    folder = Path(ref.download(local_path=tmp_path, show_progress=False))
    (folder / "top.txt").write_text("edited locally\n")
    (folder / "sub" / "deeper" / "leaf.txt").unlink()

    with pytest.raises(StepRunError, match="already exists") as info:
        ref.download(local_path=tmp_path, show_progress=False)
    assert str(folder) in str(info.value) and "overwrite=True" in str(info.value)
    # Refused before anything was written: the local edit stays, the deleted file is not back.
    assert (folder / "top.txt").read_text() == "edited locally\n"
    assert not (folder / "sub" / "deeper" / "leaf.txt").exists()

    again = ref.download(local_path=tmp_path, overwrite=True, show_progress=False)
    assert _files_under(Path(again)) == _as_bytes(NESTED)
    assert not list(tmp_path.rglob("*.part"))


def test_download_into_a_fresh_folder_with_overwrite_false(model_step, tmp_path):
    # overwrite=False is no obstacle when nothing is there yet, even if the folder exists.
    ref = model_step.get_output_data("model")
    (tmp_path / ref.path_on_datastore).mkdir(parents=True)
    ref.download(local_path=tmp_path, show_progress=False)
    assert (tmp_path / ref.path_on_datastore / "top.txt").read_text() == "top\n"


def test_download_shows_a_progress_bar(model_step, tmp_path, capsys):
    model_step.get_output_data("model").download(local_path=tmp_path)
    err = capsys.readouterr().err
    assert "download model" in err


# --- path safety ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [
    "outputs/o/../../escape.txt",
    "outputs/o/a/../../../escape.txt",
    "outputs/o//etc/passwd",
    "/etc/passwd",
    "outputs/o/",
    "outputs/other/file.txt",
    "outputs/oo/file.txt",
    "outputs/o/..\\..\\escape.txt",
    "outputs/o/C:evil.txt",
    "outputs/o/C:/Windows/evil.txt",
    "outputs/o/nul\x00byte",
    "outputs/o/..",
])
def test_relative_output_path_refuses_escapes(path):
    with pytest.raises(StepRunError, match="refusing to download") as info:
        relative_output_path("o", path)
    assert repr(path) in str(info.value) and "'o'" in str(info.value)  # names the path and output


@pytest.mark.parametrize(("path", "rel"), [
    ("outputs/o/a.txt", "a.txt"),
    ("outputs/o/a/b/c.txt", "a/b/c.txt"),
    ("outputs/o/..hidden", "..hidden"),
    ("outputs/o/a..b/c", "a..b/c"),
])
def test_relative_output_path_keeps_safe_paths(path, rel):
    assert relative_output_path("o", path) == PurePosixPath(rel)


def test_safe_target_refuses_a_symlink_out_of_the_folder(tmp_path):
    root = tmp_path / "dest"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    assert safe_target(root, PurePosixPath("ok/file.txt"), "o") == root / "ok" / "file.txt"
    with pytest.raises(StepRunError, match="resolves outside"):
        safe_target(root, PurePosixPath("link/file.txt"), "o")


def test_download_refuses_hostile_names_from_a_real_server(experiment, runs, tmp_path):
    # The real server keeps `..` out: requests/urllib3 normalise dot segments of the URL and the
    # server refuses encoded ones ("Invalid path"), so no artifact called `../x` can be created.
    # A name full of backslashes is allowed on a Linux server, though, and is `..\..\x` on Windows;
    # a drive-letter name likewise. Both are created for real here and must be refused.
    pipe = runs.pipeline(steps=["evil"])
    record = runs.step(pipe, "evil", status=layout.FINISHED)
    runs.output(record, "o", {"fine.txt": "fine\n", "..\\..\\escape.txt": "gotcha\n"})
    runs.output(record, "d", {"C:evil.txt": "gotcha\n"})
    step = PipelineRun(experiment, pipe.run_id).find_step_run("evil")[0]
    assert [f.path for f in step.get_output("o").files][0].endswith("..\\..\\escape.txt")

    for name in ("o", "d"):
        with pytest.raises(StepRunError, match="refusing to download"):
            step.get_output_data(name).download(local_path=tmp_path / "dl", show_progress=False)
    # Refused before anything was written, the harmless file included.
    assert not (tmp_path / "dl").exists()
    assert not list(tmp_path.parent.rglob("escape.txt"))


# --- temp names, interruptions -------------------------------------------------------------------
def test_write_atomically_leaves_nothing_when_the_source_fails(tmp_path):
    target = tmp_path / "data.bin"

    def chunks():
        yield b"x" * 1000
        raise ConnectionError("stream broken")

    with pytest.raises(ConnectionError):
        write_atomically(target, chunks())
    assert list(tmp_path.iterdir()) == []

    target.write_bytes(b"old complete content")
    with pytest.raises(ConnectionError):
        write_atomically(target, chunks())
    assert target.read_bytes() == b"old complete content"  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]

    assert write_atomically(target, iter([b"new", b" data"])) == 8
    assert target.read_bytes() == b"new data"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


@pytest.mark.slow  # among the ten slowest of core + local + widgets (CONTRIBUTING.md)
def test_download_interrupted_by_the_server_dying_mid_stream(tmp_path):
    # A server of its own, killed (SIGKILL: no graceful end of the response) as soon as the answer to
    # the big file's download starts; the session server stays untouched.
    server = MlflowServer(tmp_path / "server").start()
    try:
        ws = Workspace(server.url, retries=0)
        runs = RunLayout(ws, "interrupted")
        pipe = runs.pipeline(steps=["big"])
        record = runs.step(pipe, "big", status=layout.FINISHED)
        big = os.urandom(1024) * (48 * 1024)  # 48 MB: far more than socket buffers hold
        runs.output(record, "blob", {"a-small.txt": "small\n", "z-big.bin": big})
        step = PipelineRun(Experiment(ws, "interrupted"), pipe.run_id).find_step_run("big")[0]
        ref = step.get_output_data("blob")
        ref._output.files  # list before the server goes away  # noqa: B018

        def kill_on_big_download(response, *args, **kwargs):
            if response.url.endswith("z-big.bin") and server.proc is not None:
                os.killpg(server.proc.pid, signal.SIGKILL)

        ws.transport.session.hooks["response"].append(kill_on_big_download)
        dest = tmp_path / "dl"
        with pytest.raises(ServiceError) as info:
            ref.download(local_path=dest, show_progress=False, flat=True)  # <dest>/<output name>/
        message = str(info.value)
        assert "blob" in message and "z-big.bin" in message
        assert (dest / "blob" / "a-small.txt").read_text() == "small\n"  # completed before: kept
        assert not (dest / "blob" / "z-big.bin").exists()  # nothing under the real name
        assert not list(dest.rglob("*.part"))
        assert [p.name for p in (dest / "blob").iterdir()] == ["a-small.txt"]
    finally:
        server.stop()
