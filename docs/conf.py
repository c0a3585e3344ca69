"""Sphinx configuration of the documentation site.

Sphinx with MyST-NB and the Sphinx Book Theme: the stack course sites made of executed notebooks
use, so this site is also a check that the widgets' static snapshot reads on one. The quickstart
and teaching notebooks are copied from ``notebooks/`` into ``_notebooks/`` (build scratch) and
executed at build time; the embedded server they start has its root there, ``STEPRUN_HOME`` is a
temp folder, and the server is stopped when the build ends. Nothing is loaded from a CDN: the
ipywidgets JavaScript is left out, so a widget's output shows its static HTML snapshot.

Build: ``sphinx-build -W --keep-going -n docs docs/_build/html`` (scripts/test.sh does).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))

from steprun_widgets import __version__  # noqa: E402

project = "steprun-widgets"
author = "The steprun-widgets authors"
copyright = "2026, the steprun-widgets authors"
version = release = __version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
]
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "_notebooks/sample", "_notebooks/.steprun",
                    "_notebooks/*.py", "README.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

html_theme = "sphinx_book_theme"
html_title = f"steprun-widgets {release}"
html_static_path = ["_static"]
html_theme_options = {
    "repository_url": "https://github.com/steprun-widgets/steprun-widgets",
    "use_repository_button": True,
    "path_to_docs": "docs",
}

# --- API reference (from the docstrings) ------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
autosummary_generate = True
# Types of other libraries the signatures name: no intersphinx (the build is offline).
nitpick_ignore_regex = [
    (r"py:.*", r"(requests|urllib3|traitlets|anywidget|ipywidgets|concurrent|collections|typing|"
               r"pathlib|os|io|datetime|distributed|mlflow|subprocess|threading|types)(\..*)?"),
    # Internal classes a public signature names (the reference documents the public API only).
    (r"py:.*", r"steprun_widgets\.(core|local|widgets)\.[a-z_]+\.(_?[A-Z]\w*)"),
    (r"py:.*", r"(FileInfo|PipelineStep|ChannelWriter|RunRecord|LogReader|RunWidget|StepPane|"
               r"PipelineParameter)"),
    (r"py:.*", r"(Path|PathLike|Any|Callable|Iterable|Iterator|Mapping|Sequence|Executor|Future|"
               r"Session|Response|BinaryIO|IO|TextIO|datetime|Self|optional|None|NoneType)"),
]

# --- executed notebooks ---------------------------------------------------------------------------
nb_execution_mode = "force" if os.environ.get("STEPRUN_DOCS_EXECUTE", "1") != "0" else "off"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# No require.js / widget manager from a CDN: the widget views fall back to their static snapshot.
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None),
                              ("html", "application/vnd.jupyter.widget-state+json", None)]

NOTEBOOKS = DOCS / "_notebooks"
SOURCE_URL = "https://github.com/steprun-widgets/steprun-widgets/tree/main/notebooks"
_home = tempfile.mkdtemp(prefix="steprun-docs-home-")


def _copy_notebooks() -> None:
    shutil.rmtree(NOTEBOOKS, ignore_errors=True)
    shutil.copytree(REPO / "notebooks", NOTEBOOKS,
                    ignore=shutil.ignore_patterns(".steprun", ".ipynb_checkpoints", "__pycache__"))
    # A link to the sample's folder is not a page of the site: point it at the repository.
    for notebook in NOTEBOOKS.glob("*.ipynb"):
        text = notebook.read_text(encoding="utf-8")
        notebook.write_text(text.replace("](sample/", f"]({SOURCE_URL}/sample/"), encoding="utf-8")


def _stop_servers(app, exception) -> None:  # build-finished
    from steprun_widgets.local.server import stop_server

    # the notebooks' embedded server: the per-user root, which is STEPRUN_HOME here (and a
    # project-local .steprun/ beside them, had one been asked for)
    for root in (Path(_home), NOTEBOOKS / ".steprun"):
        if root.is_dir():
            stop_server(root, force=True)  # a run a notebook left going is canceled, not left
    shutil.rmtree(_home, ignore_errors=True)


os.environ["STEPRUN_HOME"] = _home  # the kernels inherit it: no user folder is touched
for name in ("STEPRUN_TRACKING_URI", "MLFLOW_TRACKING_URI"):
    os.environ.pop(name, None)  # the notebooks use the embedded server, never the builder's own
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
_copy_notebooks()


def setup(app):
    app.connect("build-finished", _stop_servers)
