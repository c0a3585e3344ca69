"""Execute the repository's notebooks with nbclient in a real kernel, in a temp copy of notebooks/.

The kernel gets ``STEPRUN_TRACKING_URI`` (the session's MLflow server, so the notebooks use
``Workspace()`` instead of starting an embedded server) and a ``TMPDIR`` of its own, so the
runner's work folders and the lesson's temp copies land in the test's folder, not the shared one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

_executed: dict[tuple[str, str], Path] = {}


def copy_notebooks(dest: Path) -> Path:
    """A copy of notebooks/ (without the embedded server's store or caches) to run in."""
    shutil.copytree(NOTEBOOKS, dest, ignore=shutil.ignore_patterns(
        ".steprun", "__pycache__", ".ipynb_checkpoints", "downloads"))
    return dest


def execute(path: Path, tracking_uri: str, *, store_widget_state: bool = True,
            timeout: int = 300) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` in its folder; save it there with its outputs.

    A cell that raises fails the run (nbclient raises ``CellExecutionError`` with the traceback).
    """
    nb = nbformat.read(path, as_version=4)
    tmp = path.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "STEPRUN_TRACKING_URI": tracking_uri, "TMPDIR": str(tmp)}
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "STEPRUN_RUNNER_TOKEN"):
        env.pop(name, None)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            store_widget_state=store_widget_state,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    nbformat.write(nb, path)
    return nb


def executed_notebook(name: str, tmp_path_factory, tracking_uri: str) -> Path:
    """``notebooks/<name>`` executed once per session (with widget state) and saved; its path.

    The notebook test and the notebook size benchmark look at the same executed file.
    """
    key = (name, tracking_uri)
    if key not in _executed:
        folder = copy_notebooks(tmp_path_factory.mktemp(Path(name).stem) / "notebooks")
        execute(folder / name, tracking_uri)
        _executed[key] = folder / name
    return _executed[key]


def text(value) -> str:
    """Notebook text fields are a string or a list of strings."""
    return "".join(value) if isinstance(value, list) else (value or "")


def widget_states(nb) -> dict[str, dict]:
    """model id -> saved widget state (the notebook metadata nbclient wrote)."""
    saved = nb["metadata"].get("widgets", {}).get(WIDGET_STATE, {})
    return saved.get("state", {})


def outputs(nb, kind: str | None = None) -> list[dict]:
    """Every output of every code cell (optionally of one output_type), in order."""
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
            if kind is None or o["output_type"] == kind]


def anywidget_states(nb) -> list[dict]:
    """The saved states of the notebook's anywidget models (our widgets), in no special order."""
    return [s["state"] for s in widget_states(nb).values() if s.get("model_module") == "anywidget"]


def dumps(nb) -> str:
    return json.dumps(nb)
