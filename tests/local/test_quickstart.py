"""notebooks/quickstart.py: the README's first command, on a fresh embedded server of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from steprun_widgets import Workspace
from steprun_widgets.core import layout
from steprun_widgets.core.transport import API
from tests.local.helpers import REPO, wait_until
from tests.metrics_rest import history


def _step_record(out: str, name: str, root):
    """(workspace, run id) of the step ``name`` the quickstart ran, found on its server."""
    url = next(line.split("Tracking server:")[1].split()[0] for line in out.splitlines()
               if "Tracking server:" in line)
    ws = Workspace.local(root)  # the owner's way in: the server lets no one in without the root's secret
    assert ws.tracking_uri == url
    ids = [e["experiment_id"] for e in ws.rest.transport.post_json(
        f"{API}/experiments/search", {"max_results": 100}).get("experiments", [])]
    runs = ws.rest.search_runs(ids, f"tags.`{layout.TAG_RUN_NAME}` = '{name}'")
    return ws, runs[0].run_id


@pytest.mark.slow  # among the ten slowest of core + local + widgets (CONTRIBUTING.md)
def test_quickstart_runs_the_sample_pipeline_on_the_embedded_server(tmp_path):
    server = pytest.importorskip("steprun_widgets.local.server")
    root = (tmp_path / "home").resolve()
    env = {**os.environ, "STEPRUN_HOME": str(root)}  # the per-user root, which the quickstart uses
    try:
        first = subprocess.run([sys.executable, str(REPO / "notebooks" / "quickstart.py"), "--rows", "50"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        out = first.stdout
        assert out.startswith("Started the embedded MLflow server at http://127.0.0.1:")
        assert f"(root: {root})" in out.splitlines()[0]
        assert "Tracking server: http://127.0.0.1:" in out
        assert "[train] train: epoch 10/10" in out  # the visible log streamed while it ran
        assert "PipelineRun " in out and ": Finished" in out
        assert "Output 'metrics' of step 'evaluate' downloaded to" in out
        assert "Metrics of step 'train' (train.get_metrics()):" in out
        assert re.search(r"^  loss: (\d+\.\d{4}, ){9}\d+\.\d{4}$", out, re.M), out  # 10 epochs
        assert "Where to look next:" in out and "steprun-widgets watch " in out
        # the UI link: only its owner gets in, told how to sign in; the password itself is never printed
        assert "only you get in: sign in as" in out
        assert f"'steprun' with the admin_password of {root / 'basic_auth.ini'}" in out
        password = server.read_credentials(root).password
        assert password not in first.stdout + first.stderr
        metrics = list((root / "downloads").glob("*/azureml/*/metrics/metrics.json"))  # Azure ML's layout
        assert len(metrics) == 1
        # the run is over: it left no copy of its data in the work area (housekeeping; that the
        # embedded default appends logs in place, without a spool, tests/local/test_logs.py checks)
        wait_until(lambda: not any((root / "work").iterdir()), 30, "the work area to be emptied")
        # the train step logged its loss per epoch (Run.get_context()), and its r2 once
        train = _step_record(out, "train", root)
        assert [v for _, v, _ in history(train[0], train[1], "loss")][-1] < 1.0
        assert len(history(train[0], train[1], "loss")) == 10 and len(history(train[0], train[1], "r2")) == 1

        elsewhere = tmp_path / "elsewhere"  # another working folder: the same per-user server
        elsewhere.mkdir()
        again = subprocess.run([sys.executable, str(REPO / "notebooks" / "quickstart.py"), "--rows", "50"],
                               cwd=elsewhere, capture_output=True, text=True, timeout=120, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.startswith("Reusing the embedded MLflow server at ")  # from another folder
        assert "reused from earlier runs: prep, train, evaluate" in again.stdout
        assert again.stdout.count("(reused)") == 3
    finally:
        server.stop_server(root)
