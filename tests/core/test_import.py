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


def test_import_does_not_import_mlflow():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
