"""Click-to-download through the kernel: one file as is, a folder as a zip, errors, flow control."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import zipfile

import pytest

from steprun_widgets.core import layout
from steprun_widgets.widgets import downloads
from steprun_widgets.widgets.downloads import Canceled, ChunkSender
from tests.widgets.helpers import script_step, submit, wait_until, watch_widget

MAKER = """
import os, sys, random
model, report = sys.argv[1], sys.argv[2]
rng = random.Random(7)
with open(os.path.join(model, "model.bin"), "wb") as f:
    f.write(rng.randbytes(3 * 1024 * 1024 + 12345))  # more than 3 chunks, not a whole number
os.makedirs(os.path.join(report, "plots", "deep"))
files = {"summary.txt": "r2=0.97\\n", "plots/loss.csv": "epoch,loss\\n1,0.5\\n",
         "plots/deep/raw.bin": None, "ünïcode name.txt": "ok ✓"}
for rel, text in files.items():
    data = rng.randbytes(200_000) if text is None else text.encode()
    with open(os.path.join(report, rel), "wb") as f:
        f.write(data)
"""


@pytest.fixture(scope="module")
def outputs_step(mlflow_server, tmp_path_factory):
    """A finished step with a one-file output ``model`` and a folder output ``report``."""
    from steprun_widgets import Experiment
    from tests.widgets.helpers import embedded_workspace, stop_leftovers

    ws = embedded_workspace(mlflow_server)
    experiment = Experiment(ws, f"widget-downloads-{tmp_path_factory.getbasetemp().name}")
    step = script_step(tmp_path_factory.mktemp("src"), "maker", MAKER, outputs=("model", "report"))
    run = submit(experiment, [step])
    assert run.wait_for_completion(show_output=False, timeout_seconds=60) == layout.FINISHED
    yield run.get_steps()[0]
    stop_leftovers(experiment)
    ws.transport.close()


def server_files(step_run, output: str) -> dict[str, bytes]:
    """Each file of an output (path inside the output -> bytes), fetched from the server."""
    files = {}
    prefix = layout.output_path(output) + "/"
    for info in step_run.get_output(output).files:
        with step_run._rest.open_artifact(step_run._record(), info.path) as response:
            files[info.path[len(prefix):]] = response.content
    return files


def download(widget, browser, output: str, request_id: str) -> tuple[dict, bytes]:
    widget._handle_message(widget, {"type": "download", "output": output, "request_id": request_id}, [])
    end = browser.wait_download(request_id)
    return end, b"".join(browser.chunks.get(request_id, []))


def test_single_file_output_downloads_byte_exact(outputs_step):
    widget, browser = watch_widget(outputs_step)
    assert {o["name"]: (o["file_count"], o["is_dir"]) for o in widget.outputs} == {
        "model": (1, False), "report": (4, True)}
    end, data = download(widget, browser, "model", "r1")
    assert end["type"] == "download_end", end
    expected = server_files(outputs_step, "model")["model.bin"]
    assert hashlib.sha256(data).digest() == hashlib.sha256(expected).digest()
    assert end["bytes"] == len(expected) == next(o["size"] for o in widget.outputs if o["name"] == "model")
    start = browser.of("download_start", request_id="r1")[0]
    assert start["filename"] == "model.bin" and start["size"] == len(expected)
    chunks = browser.of("download_chunk", request_id="r1")
    assert len(chunks) == 4 and [c["received"] for c in chunks][-1] == len(expected)
    assert all(len(c) <= downloads.CHUNK for c in browser.chunks["r1"])
    wait_until(lambda: "r1" not in widget._downloads, 5, "the download to be forgotten")


def test_folder_output_downloads_as_a_zip_of_its_files(outputs_step):
    widget, browser = watch_widget(outputs_step)
    end, data = download(widget, browser, "report", "r2")
    assert end["type"] == "download_end", end
    start = browser.of("download_start", request_id="r2")[0]
    assert start["filename"] == "report.zip" and start["mime"] == "application/zip"
    assert end["bytes"] == len(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        members = {name: archive.read(name) for name in archive.namelist()}
    expected = {f"report/{rel}": content for rel, content in server_files(outputs_step, "report").items()}
    assert set(members) == {"report/summary.txt", "report/plots/loss.csv", "report/plots/deep/raw.bin",
                            "report/ünïcode name.txt"}
    assert members == expected


def test_unknown_output_gives_a_download_error_naming_it(outputs_step):
    widget, browser = watch_widget(outputs_step)
    end, data = download(widget, browser, "no_such_output", "r3")
    assert end["type"] == "download_error" and data == b""
    assert "no_such_output" in end["message"]
    assert "model" in end["message"] and "report" in end["message"]  # says what there is


def test_sender_without_acks_stops_at_the_window(monkeypatch):
    monkeypatch.setattr(downloads, "ACK_TIMEOUT", 0.6)
    sent: list[tuple[dict, bytes]] = []
    sender = ChunkSender(lambda message, buffers: sent.append((message, buffers[0])), "w1",
                         window=3000, chunk=1000)
    started = time.monotonic()
    with pytest.raises(Canceled, match="stopped receiving"):
        sender.write(b"x" * 10_000)
    assert time.monotonic() - started >= 0.5  # it waited for acks before giving up
    assert sender.sent == 3000 and len(sent) == 3  # never more than the window un-acknowledged
    assert [m["received"] for m, _ in sent] == [1000, 2000, 3000]


def test_sender_blocks_at_the_window_until_acked_and_stops_on_cancel(monkeypatch):
    monkeypatch.setattr(downloads, "ACK_TIMEOUT", 30.0)
    sent: list[int] = []
    sender = ChunkSender(lambda message, buffers: sent.append(message["received"]), "w2",
                         window=2000, chunk=1000)
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            sender.write(b"y" * 6000)
            sender.flush()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    wait_until(lambda: len(sent) == 2, 5, "two chunks")
    time.sleep(0.3)
    assert sent == [1000, 2000]  # blocked at the window
    sender.ack(1000)
    wait_until(lambda: len(sent) == 3, 5, "one more chunk after an ack")
    time.sleep(0.3)
    assert sent == [1000, 2000, 3000]
    sender.cancel()
    thread.join(5)
    assert not thread.is_alive() and isinstance(outcome[0], Canceled)
    assert sender.sent == 3000


# --- save into the kernel's working folder (the download(local_path=...) path) ------------------

def _save_local(widget, browser, output: str, request_id: str, path: str = "") -> dict:
    widget._handle_message(widget, {"type": "save_local", "output": output, "request_id": request_id,
                                    "path": path}, [])
    wait_until(lambda: browser.of("save_local_done", request_id=request_id)
               or browser.of("save_local_error", request_id=request_id), 60, "the save's answer")
    return (browser.of("save_local_done", request_id=request_id)
            or browser.of("save_local_error", request_id=request_id))[0]


def test_save_into_the_kernels_folder_writes_the_files_and_says_where(outputs_step, tmp_path,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    widget, browser = watch_widget(outputs_step)
    done = _save_local(widget, browser, "model", "s1")
    assert done["type"] == "save_local_done", done
    assert done["path"] == "model/model.bin"
    expected = server_files(outputs_step, "model")["model.bin"]
    assert (tmp_path / "model" / "model.bin").read_bytes() == expected
    assert done["bytes"] == len(expected)

    done = _save_local(widget, browser, "report", "s2", path="results")
    assert done["path"] == "results/report/", done
    assert {p.relative_to(tmp_path / "results" / "report").as_posix(): p.read_bytes()
            for p in (tmp_path / "results" / "report").rglob("*") if p.is_file()} == \
        server_files(outputs_step, "report")
    assert not [p for p in tmp_path.rglob("*.part")], "no half-written file left"

    again = _save_local(widget, browser, "model", "s3")
    assert again["type"] == "save_local_error", again
    assert "'model' is already in the kernel's working folder" in again["message"], again
    assert (tmp_path / "model" / "model.bin").read_bytes() == expected, "nothing overwritten"


@pytest.mark.parametrize("path", ["..", "../elsewhere", "/tmp", "sub/../../x"])
def test_save_into_the_kernels_folder_refuses_a_place_outside_it(outputs_step, tmp_path, monkeypatch,
                                                                 path):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    widget, browser = watch_widget(outputs_step)
    answer = _save_local(widget, browser, "model", "out", path=path)
    assert answer["type"] == "save_local_error", answer
    assert "outside the kernel's working folder" in answer["message"]
    assert repr(path) in answer["message"]
    assert not [p for p in tmp_path.rglob("model.bin")], "nothing written anywhere"


def test_save_into_the_kernels_folder_names_a_missing_output(outputs_step, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    widget, browser = watch_widget(outputs_step)
    answer = _save_local(widget, browser, "nope", "m1")
    assert answer["type"] == "save_local_error" and "'nope'" in answer["message"], answer


def test_whole_log_downloads_byte_exact_and_names_a_missing_stream(outputs_step):
    widget, browser = watch_widget(outputs_step)
    widget._handle_message(widget, {"type": "download_log", "stream": "job", "request_id": "l1"}, [])
    end = browser.wait_download("l1")
    assert end["type"] == "download_end", end
    data = b"".join(browser.chunks.get("l1", []))
    assert data.decode("utf-8") == outputs_step.get_job_log() and data
    start = browser.of("download_start", request_id="l1")[0]
    assert start["filename"] == "maker-job.txt" and start["size"] == len(data)

    widget._handle_message(widget, {"type": "download_log", "stream": "nope", "request_id": "l2"}, [])
    end = browser.wait_download("l2")
    assert end["type"] == "download_error" and "no log named 'nope'" in end["message"], end
