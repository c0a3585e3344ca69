"""The package as a user or a packager gets it: the built sdist and wheel, installed outside the repo.

The slow test builds both with ``python -m build`` (the wheel is built from the sdist, so the sdist
is enough to build it), reads the wheel's metadata, installs the wheel with its ``local`` extra into
a new venv in a temp folder, and runs the quickstart there, from a copy of ``notebooks/`` outside the
checkout, with a working folder outside it too.

The venv sees the machine's site-packages, so pip finds the ``local`` extra's requirements
(mlflow and its dependencies) already there and only checks them: a venv without them took 217 s
of the 232 s this file took, installing mlflow. The package itself is the wheel's copy in the venv
(asserted), not the checkout's editable install.
"""

from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import steprun_widgets
from steprun_widgets.local.server import INSTALL_HINT

REPO = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_install_hint_names_exactly_the_local_extra():
    """The message shown when mlflow is missing installs what the ``local`` extra would."""
    local = _pyproject()["project"]["optional-dependencies"]["local"]
    hinted = re.findall(r'"([^"]+)"', INSTALL_HINT)
    assert sorted(hinted) == sorted(local)


def test_version_is_written_once():
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert "version" in _pyproject()["project"]["dynamic"]
    assert not re.search(r"^version\s*=", text, re.M), "pyproject.toml reads the version from _version.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", steprun_widgets.__version__)
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheel, = out.glob("*.whl")
    sdist, = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.mark.slow
def test_sdist_holds_what_rebuilds_the_frontend(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ("js/build.mjs", "js/package.json", "js/package-lock.json", "js/src/step_widget.js",
                   "hatch_build.py", "LICENSE", "CHANGELOG.md", "steprun_widgets/py.typed",
                   "steprun_widgets/widgets/static/step_widget.js", "docs/run-layout.md",
                   "notebooks/quickstart.py"):
        assert needed in names, needed
    assert not any(n.startswith(("tests/", "js/node_modules/")) for n in names)


@pytest.mark.slow
def test_wheel_metadata_is_complete(dists):
    with zipfile.ZipFile(dists["wheel"]) as whl:
        names = set(whl.namelist())
        meta_name, = (n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(whl.read(meta_name))
    assert "steprun_widgets/py.typed" in names
    assert {f"steprun_widgets/widgets/static/{f}" for f in ("loader.js", "step_widget.js",
                                                            "pipeline_widget.js")} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["Version"] == steprun_widgets.__version__
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Author"]
    classifiers = set(meta.get_all("Classifier"))
    assert {"Framework :: Jupyter", "Framework :: Jupyter :: JupyterLab", "Typing :: Typed",
            "Programming Language :: Python :: 3.10", "Programming Language :: Python :: 3.13"} <= classifiers
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Documentation", "Source", "Changelog"} <= set(urls)
    assert all(u.startswith("https://github.com/steprun-widgets/steprun-widgets") for u in urls.values())


@pytest.mark.slow
def test_wheel_installs_and_runs_the_quickstart_outside_the_repo(dists, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
           and not k.startswith(("STEPRUN_", "MLFLOW_"))}
    env["STEPRUN_HOME"] = str(tmp_path / "home")
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # The wheel into the venv (the machine has the same version installed from the checkout), then
    # its local extra, which pip resolves against what the venv sees.
    for args in (["--no-deps", "--force-reinstall", str(dists["wheel"])], [f"{dists['wheel']}[local]"]):
        done = subprocess.run(pip + args, capture_output=True, text=True, env=env, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]

    # The installed package is the wheel's, not this checkout's.
    where = subprocess.run([str(python), "-c", "import steprun_widgets; print(steprun_widgets.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout
    assert str(venv) in where and str(REPO) not in where

    notebooks = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints",
                                                                                 "__pycache__"))
    work = tmp_path / "elsewhere"
    work.mkdir()
    root = tmp_path / "root"
    try:
        done = subprocess.run([str(python), str(notebooks / "quickstart.py"), "--root", str(root)],
                              capture_output=True, text=True, env=env, cwd=work, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "Output 'metrics' of step 'evaluate' downloaded to" in done.stdout
        # Every path the "next" hints name exists on this machine.
        hint = done.stdout.split("Where to look next:", 1)[1]
        for path in re.findall(r"(/\S+\.ipynb)", hint):
            assert Path(path).is_file(), path
        assert "jupyter lab " in hint
    finally:
        subprocess.run([str(venv / "bin" / "steprun-widgets"), "server", "stop", "--root", str(root)],
                       capture_output=True, env=env, timeout=60)
