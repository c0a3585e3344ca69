"""``import steprun_widgets`` stays light: it must not import mlflow (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import steprun_widgets
from steprun_widgets import (Workspace, Experiment, PipelineRun, StepRun, StepRunOutput,
                             PortDataReference)
from steprun_widgets.errors import (StepRunError, ServiceError, RunNotFoundError,
                                    OutputNotFoundError, ActivityFailedException)
print(json.dumps(sorted(m for m in sys.modules if m == "mlflow" or m.startswith("mlflow."))))
"""

RUN_PROBE = """
import json, sys
from steprun_widgets import Run
run = Run.get_context()
run.log("loss", 0.5)
heavy = ("mlflow", "matplotlib", "numpy", "ipywidgets", "anywidget", "IPython")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def test_import_does_not_import_mlflow():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_run_context_does_not_import_mlflow_or_matplotlib(tmp_path):
    out = subprocess.run([sys.executable, "-c", RUN_PROBE], capture_output=True, text=True, check=True,
                         timeout=120, cwd=tmp_path).stdout
    lines = out.strip().splitlines()
    assert "metric loss = 0.5 (step 0)" in lines[0]  # the offline run prints what it logs
    assert json.loads(lines[-1]) == []
