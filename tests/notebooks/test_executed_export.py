"""``jupyter nbconvert --execute``: the saved snapshot says what it is.

A notebook that displays a widget and goes on while the run goes on saves the run as it was:
its snapshot must say the run was still running when the notebook was saved (and when). The
documented pattern for course material, ``widget.wait_for_completion()`` in a later cell, saves
the run's final state instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.browser.lab import write_notebook
from tests.notebooks.helpers import text

STEP = """
    import time
    for i in range(6):
        print(f"working {i}", flush=True)
        time.sleep(0.5)
"""


def _notebook(folder: Path, experiment_name: str, wait: bool) -> Path:
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "work.py").write_text(textwrap.dedent(STEP).lstrip(), encoding="utf-8")
    cells = [
        "from steprun_widgets import Workspace, Experiment, PipelineRunWidget\n"
        "from steprun_widgets.local import Pipeline, PythonScriptStep\n"
        "ws = Workspace()\n"
        "step = PythonScriptStep('work.py', name='work', source_directory='src', allow_reuse=False)\n"
        f"run = Experiment(ws, {experiment_name!r}).submit(Pipeline(ws, [step]))",
        "widget = PipelineRunWidget(run)\nwidget",
    ]
    if wait:
        cells.append("widget.wait_for_completion()")
    else:  # the notebook ends while the run goes on; cancel it afterwards (not in the notebook)
        cells.append("print(run.id)")
    return write_notebook(folder / "lesson.ipynb", cells)


def _execute(path: Path, tracking_uri: str) -> dict:
    env = {**os.environ, "STEPRUN_TRACKING_URI": tracking_uri, "TMPDIR": str(path.parent)}
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                           "--inplace", str(path)], capture_output=True, text=True, timeout=240,
                          env=env, cwd=path.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(path.read_text(encoding="utf-8"))


def _companion(nb: dict) -> str:
    found = [text(o["data"]["text/html"]) for c in nb["cells"] for o in c.get("outputs", [])
             if "srw-snapshot-companion" in text(o.get("data", {}).get("text/html"))]
    assert len(found) == 1, len(found)
    return found[0]


@pytest.mark.parametrize("wait", [True, False], ids=["wait-cell", "no-wait"])
def test_executed_notebook_says_whether_the_run_was_final(tmp_path, tracking_uri, experiment_name, wait):
    path = _notebook(tmp_path, experiment_name, wait)
    nb = _execute(path, tracking_uri)
    html = _companion(nb)
    if wait:
        assert text(nb["cells"][-1]["outputs"][-1]["data"]["text/plain"]) == "'Finished'"
        assert "✔ Finished" in html and "snapshot of the last state" in html
        assert "still running" not in html and "working 5" not in html  # no open step view: no log
    else:
        from steprun_widgets import Experiment, PipelineRun, Workspace

        run_id = text(nb["cells"][-1]["outputs"][-1]["text"]).strip()
        PipelineRun(Experiment(Workspace(tracking_uri), experiment_name), run_id).cancel()
        assert "✔ Finished" not in html
        assert re.search(r"(still running|still queued|not started yet) when this notebook was saved at "
                         r"\d\d:\d\d UTC — not updated since", html), html[-400:]
