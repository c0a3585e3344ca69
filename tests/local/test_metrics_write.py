"""Run.get_context() in real steps: what a step logs reaches its run through the runner, exactly once.

Real runner processes against the session's MLflow server (both log sinks: appended in place and
uploaded); metrics are read back with MLflow's own REST API, not with our reader.
"""

from __future__ import annotations

import json
import math
import struct
import zlib

import pytest

from steprun_widgets.core import layout
from steprun_widgets.local import PythonScriptStep
from tests.local.helpers import wait_terminal, write_script
from tests.metrics_rest import history, latest
from tests.support import submit


def tiny_png() -> bytes:
    """A valid 1x1 PNG, built by hand (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


EVERYTHING = r'''
import io, sys
from pathlib import Path
from steprun_widgets import Run
from steprun_widgets.errors import LoggingError

run = Run.get_context()
print("RUN", run.id, run.offline)
for epoch in range(5):
    run.log("loss", 1.0 / (epoch + 1), description="training loss")
run.log("accuracy", 0.93)
run.log_list("lr", [0.1, 0.01, 0.001])
run.log_list("single", [7])
for i in range(3):
    run.log_row("per_class", description="recall per class", cls=i, recall=i / 10)
run.log("nan", float("nan")); run.log("posinf", float("inf")); run.log("neginf", float("-inf"))
run.log("big", 1e308)
run.log("flag", True); run.log("flag", False)

class Scalar:  # what numpy scalars look like from here: __float__, not a float
    def __float__(self):
        return 2.5
run.log("scalar", Scalar())
run.log("a/b c", 1); run.log("ünï", 2); run.log("x" * 250, 3)
run.log("back", 10, step=5); run.log("back", 20, step=2); run.log("back", 30)
run.tag("purpose", "test"); run.tag("flagonly")
Path("pic.png").write_bytes(bytes.fromhex(sys.argv[1]))
run.log_image("curve", path="pic.png")

class Figure:  # what log_image needs of a matplotlib figure (or pyplot): savefig(path, format=)
    def savefig(self, path, format=None):
        assert format == "png"
        Path(path).write_bytes(bytes.fromhex(sys.argv[1]))
run.log_image("figure", plot=Figure())
Path("notes.txt").write_text("hello ✓", encoding="utf-8")
run.upload_file("extra/notes.txt", "notes.txt")
run.upload_file("extra/stream.bin", io.BytesIO(b"\x00\x01\x02"))
for bad in (lambda: run.log("text", "abc"), lambda: run.log("y" * 300, 1),
            lambda: run.log("co:lon", 1), lambda: run.log("a//b", 1), lambda: run.log("none", None),
            lambda: run.log("cplx", 1j), lambda: run.log("huge", 10 ** 400),
            lambda: run.log("stepbad", 1, step=1.5), lambda: run.tag("mlflow.note.content", "x"),
            lambda: run.tag("steprun.graph", "x"), lambda: run.upload_file("logs/stdout.txt", "notes.txt"),
            lambda: run.upload_file("../escape", "notes.txt"),
            lambda: run.log_image("nopng", path="notes.txt"),
            lambda: run.log_table("uneven", {"a": [1, 2], "b": [1]})):
    try:
        bad()
    except LoggingError as exc:
        print("REFUSED", exc)
    else:
        print("ACCEPTED?!")
'''


@pytest.mark.servers
def test_a_step_logs_every_kind_and_it_reaches_its_run(experiment, tmp_path, sink):
    src = write_script(tmp_path / "s", "everything.py", EVERYTHING)
    run = submit(experiment, [PythonScriptStep("everything.py", name="log",
                                               arguments=[tiny_png().hex()], source_directory=src)])
    assert wait_terminal(run, 120) == "Finished"
    ws = experiment.workspace
    rid = run.find_step_run("log")[0].id
    assert [v for _, v, _ in history(ws, rid, "loss")] == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert [s for s, _, _ in history(ws, rid, "loss")] == [0, 1, 2, 3, 4]
    values = latest(ws, rid)
    assert values["accuracy"] == (0, 0.93)
    assert [v for _, v, _ in history(ws, rid, "lr")] == [0.1, 0.01, 0.001]
    assert [(s, v) for s, v, _ in history(ws, rid, "per_class/recall")] == [(0, 0.0), (1, 0.1), (2, 0.2)]
    assert math.isnan(values["nan"][1])
    # MLflow's SQL store keeps ±inf as ±max double; we ship real infinities
    assert values["posinf"][1] in (math.inf, 1.7976931348623157e308)
    assert values["neginf"][1] in (-math.inf, -1.7976931348623157e308)
    assert values["big"][1] == 1e308
    assert [v for _, v, _ in history(ws, rid, "flag")] == [1.0, 0.0]
    assert values["scalar"][1] == 2.5
    assert values["a/b c"][1] == 1 and values["ünï"][1] == 2 and values["x" * 250][1] == 3
    assert [(s, v) for s, v, _ in history(ws, rid, "back")] == [(2, 20), (5, 10), (6, 30)]
    record = ws.rest.get_run(rid)
    assert {k: record.params[k] for k in layout.STEP_PARAMS} == {
        layout.PARAM_SCRIPT: "everything.py", layout.PARAM_ARGUMENTS: json.dumps([tiny_png().hex()]),
        layout.PARAM_INPUTS: "[]", layout.PARAM_OUTPUTS: "[]", layout.PARAM_ALLOW_REUSE: "true"}
    tags = record.tags
    assert tags["purpose"] == "test" and tags["flagonly"] == ""
    assert json.loads(tags[layout.TAG_METRIC_DESCRIPTIONS]) == {"loss": "training loss",
                                                               "per_class": "recall per class"}
    assert json.loads(tags[layout.TAG_METRIC_TABLES]) == {"per_class": ["cls", "recall"]}
    assert json.loads(tags[layout.TAG_METRIC_LISTS]) == ["lr", "single"]
    record = ws.rest.get_run(rid)
    assert ws.rest.read_range(record, layout.image_path("curve"), 0)[0] == tiny_png()
    assert ws.rest.read_range(record, layout.image_path("figure"), 0)[0] == tiny_png()
    assert ws.rest.read_range(record, "extra/notes.txt", 0)[0] == "hello ✓".encode()
    assert ws.rest.read_range(record, "extra/stream.bin", 0)[0] == b"\x00\x01\x02"
    stdout = ws.rest.read_range(record, layout.LOG_FILES["stdout"], 0)[0].decode()
    assert f"RUN {rid} False" in stdout
    refused = [line for line in stdout.splitlines() if line.startswith(("REFUSED", "ACCEPTED"))]
    assert len(refused) == 14 and not any(r.startswith("ACCEPTED") for r in refused), refused
    for needle in ("'text'", "300 characters", "'co:lon'", "'a//b'", "'none'", "'cplx'", "'huge'",
                   "'stepbad'", "'mlflow.note.content'", "'steprun.graph'", "'logs/stdout.txt'",
                   "'../escape'", "'nopng'", "'uneven'"):
        assert any(needle in r for r in refused), (needle, refused)


def test_step_params_name_data_and_stay_within_the_param_limit(tmp_path):
    from steprun_widgets.local import PipelineData
    from steprun_widgets.local.limits import MAX_PARAM_VALUE_LENGTH
    from steprun_widgets.local.submit import step_params

    data, out = PipelineData("raw"), PipelineData("model")
    step = PythonScriptStep("train.py", arguments=["--rows", 5, data, out, "x" * 7000], inputs=[data],
                            outputs=[out], source_directory=tmp_path, allow_reuse=False)
    params = step_params(step, [{"data": "raw"} if a is data else {"data": "model"} if a is out else str(a)
                                for a in step.arguments])
    assert params[layout.PARAM_INPUTS] == '["raw"]' and params[layout.PARAM_OUTPUTS] == '["model"]'
    assert params[layout.PARAM_ALLOW_REUSE] == "false"
    args = params[layout.PARAM_ARGUMENTS]
    assert len(args) == MAX_PARAM_VALUE_LENGTH and args.startswith('["--rows","5",{"data":"raw"}')
    assert args.endswith("... [truncated: 7049 characters]")


KILLED_MID_SHIPPING = r'''
import os, signal, sys, threading
from pathlib import Path
from steprun_widgets import Run

run = Run.get_context()
def work(t):
    for i in range(2000):
        run.log(f"thread{t}", i)
threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
run.log_list("burst", range(5000))
Path(sys.argv[1]).write_text("handed over")
os.kill(os.getpid(), signal.SIGKILL)   # before the runner could ship most of it
'''


def test_values_from_threads_survive_a_step_killed_mid_shipping(experiment, tmp_path, sink):
    src = write_script(tmp_path / "s", "killed.py", KILLED_MID_SHIPPING)
    run = submit(experiment, [PythonScriptStep("killed.py", name="killed", source_directory=src,
                                               arguments=[str(tmp_path / "handed")])])
    assert wait_terminal(run, 180) == "Failed"
    assert (tmp_path / "handed").exists()
    ws = experiment.workspace
    step = run.find_step_run("killed")[0]
    assert "SIGKILL" in ws.rest.get_run(step.id).tags[layout.TAG_ERROR]
    for t in range(8):  # every value of every thread, each once, in order
        points = history(ws, step.id, f"thread{t}")
        assert [(s, v) for s, v, _ in points] == [(i, float(i)) for i in range(2000)], t
    assert [v for _, v, _ in history(ws, step.id, "burst")] == [float(i) for i in range(5000)]


SCALE = r'''
import sys, time
from steprun_widgets import Run

run = Run.get_context()
started = time.perf_counter()
for i in range(10_000):
    run.log(f"name {i:05d}", i)
for i in range(int(sys.argv[1])):
    run.log("long", i % 1000)
print(f"logged in {time.perf_counter() - started:.1f} s")
'''


def _stored(server, run_id: str) -> dict[str, tuple[int, int, int, float]]:
    """Straight from the server's SQLite store: key -> (rows, distinct steps, max step, sum)."""
    import sqlite3

    with sqlite3.connect(f"file:{server.folder / 'mlflow.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT key, COUNT(*), COUNT(DISTINCT step), MAX(step), SUM(value) "
                          "FROM metrics WHERE run_uuid = ? GROUP BY key", (run_id,)).fetchall()
    return {key: tuple(rest) for key, *rest in rows}


@pytest.mark.parametrize("sink", ["append"])
def test_ten_thousand_names_and_a_long_series(experiment, tmp_path, mlflow_server):
    """End to end, at a size the server ingests in seconds (MLflow's SQL store takes about one
    second per 1,000-value batch on the CI machine; a million values is the channel test below)."""
    values = 20_000
    src = write_script(tmp_path / "s", "scale.py", SCALE)
    run = submit(experiment, [PythonScriptStep("scale.py", name="scale", source_directory=src,
                                               arguments=[values])])
    assert wait_terminal(run, 600) == "Finished"
    step = run.find_step_run("scale")[0]
    stored = _stored(mlflow_server, step.id)
    assert len(stored) == 10_001
    assert all(stored[f"name {i:05d}"] == (1, 1, 0, float(i)) for i in range(10_000))
    assert stored["long"] == (values, values, values - 1, float(sum(i % 1000 for i in range(values))))


@pytest.mark.slow  # among the ten slowest of core + local + widgets (CONTRIBUTING.md)
def test_a_million_values_of_one_metric_pass_the_channel_whole(tmp_path):
    """A real step process logs 1,000,000 values; the runner's reader gets each once, in order,
    reading in bounded chunks."""
    import os
    import subprocess
    import sys

    from steprun_widgets.local.channel import CHANNEL_FILE, ChannelReader
    from steprun_widgets.local.plan import CONTEXT_ENV, RUN_ID_ENV

    channel = tmp_path / CHANNEL_FILE
    script = write_script(tmp_path, "million.py", SCALE) / "million.py"
    env = {**os.environ, CONTEXT_ENV: str(channel), RUN_ID_ENV: "r1"}
    subprocess.run([sys.executable, str(script), "1000000"], env=env, check=True, timeout=600,
                   capture_output=True)
    reader = ChannelReader(channel)
    count, last_offset, chunks = 0, 0, 0
    while records := reader.read():
        chunks += 1
        for record, offset in records:
            assert offset > last_offset
            last_offset = offset
            if record.get("m") == "long":
                assert (record["s"], record["v"]) == (count, count % 1000)
                count += 1
    assert count == 1_000_000 and last_offset == channel.stat().st_size and chunks >= 40


def test_the_offline_run_prints_and_never_raises(capsys, monkeypatch):
    from steprun_widgets.local import context
    from steprun_widgets.local.plan import CONTEXT_ENV

    monkeypatch.delenv(CONTEXT_ENV, raising=False)
    monkeypatch.setattr(context, "_context", None)
    run = context.Run.get_context()
    assert run.offline and run.id.startswith("OfflineRun_") and context.Run.get_context() is run
    run.log("loss", 0.25)
    run.log("text", "abc")
    run.tag("mlflow.user", "x")
    run.log_image("img", path="/nonexistent.png")
    assert run.upload_file("a/b.txt", "/nonexistent") == "a/b.txt"
    out, err = capsys.readouterr()
    assert "metric loss = 0.25 (step 0)" in out
    assert "Metric 'text'" in err and "Tag 'mlflow.user'" in err and "'/nonexistent.png'" in err
    with pytest.raises(Exception, match="allow_offline=False"):
        monkeypatch.setattr(context, "_context", None)
        context.Run.get_context(allow_offline=False)


@pytest.mark.servers
def test_layout_tags_stay_within_the_tag_limit(mlflow_server, tmp_path, experiment_name):
    """Descriptions beyond MLflow's tag value limit: the first ones are kept, the job log says so."""
    from steprun_widgets import Experiment, Workspace
    from steprun_widgets.local.channel import ChannelWriter, encode
    from steprun_widgets.local.limits import MAX_TAG_VALUE_LENGTH
    from steprun_widgets.local.metricship import MetricShipper

    ws = Workspace(mlflow_server.url)
    record = ws.rest.create_run(Experiment(ws, experiment_name).ensure(), name="described", tags={})
    folder = tmp_path / "context"
    writer = ChannelWriter(MetricShipper.prepare(folder))
    writer.send(b"".join(encode({"m": f"m{i:03d}", "v": 1.0, "t": 1, "s": 0})
                         + encode({"desc": f"m{i:03d}", "d": "a description " * 4}) for i in range(200)))
    jobs: list[str] = []
    MetricShipper(ws.rest, record, folder, None, jobs.append).drain()
    kept = json.loads(ws.rest.get_run(record.run_id).tags[layout.TAG_METRIC_DESCRIPTIONS])
    assert 0 < len(kept) < 200 and list(kept) == [f"m{i:03d}" for i in range(len(kept))]
    assert len(json.dumps(kept, separators=(",", ":"))) <= MAX_TAG_VALUE_LENGTH
    assert any(f"{200 - len(kept)} entries left out" in j and "'m" in j for j in jobs), jobs
    assert len(latest(ws, record.run_id)) == 200  # the metrics themselves are all there
