"""Write tests/migration/v1_public_names.json: the public names of Azure ML SDK v1's packages.

The list the "every unmapped v1 name gives a clear error" test checks is taken from Microsoft's
published wheels, not from this package's own code: this script downloads them from PyPI
(``pip download --no-deps``), reads each package's ``__all__`` and the public methods and
properties of the classes pipeline notebooks use, without importing anything, and writes the JSON
with the versions it read. Run it again to follow a newer v1 release.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGES = ["azureml-core", "azureml-pipeline-core", "azureml-pipeline-steps", "azureml-dataset-runtime"]
MODULES = ["azureml/core/__init__.py", "azureml/pipeline/core/__init__.py",
           "azureml/pipeline/steps/__init__.py", "azureml/data/__init__.py",
           "azureml/core/compute/__init__.py"]
# Modules without ``__all__`` whose public classes the samples import by their module path.
CLASS_MODULES = ["azureml/core/authentication.py", "azureml/core/runconfig.py",
                 "azureml/core/conda_dependencies.py", "azureml/data/data_reference.py",
                 "azureml/data/datapath.py", "azureml/data/dataset_consumption_config.py",
                 "azureml/pipeline/core/schedule.py", "azureml/pipeline/core/graph.py"]
# (file, class, also the members of these classes it inherits from in v1)
CLASSES = [
    ("azureml/core/workspace.py", "Workspace", []),
    ("azureml/core/experiment.py", "Experiment", []),
    ("azureml/pipeline/core/run.py", "PipelineRun", ["Run"]),
    ("azureml/pipeline/core/run.py", "StepRun", ["Run"]),
    ("azureml/pipeline/core/run.py", "StepRunOutput", []),
    ("azureml/pipeline/core/graph.py", "PortDataReference", []),
    ("azureml/pipeline/core/pipeline.py", "Pipeline", []),
    ("azureml/pipeline/core/builder.py", "PipelineData", []),
    ("azureml/core/run.py", "Run", []),
]


def _tree(root: Path, rel: str) -> ast.Module:
    return ast.parse((root / rel).read_text(encoding="utf-8"))


def _all(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


def _members(tree: ast.Module, cls: str) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return {b.name for b in node.body
                    if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef)) and not b.name.startswith("_")}
    raise SystemExit(f"class {cls} not found")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, *PACKAGES],
                       check=True)
        root = Path(tmp) / "x"
        versions = {}
        for wheel in sorted(Path(tmp).glob("*.whl")):
            name, version = wheel.name.split("-")[:2]
            versions[name.replace("_", "-")] = version
            zipfile.ZipFile(wheel).extractall(root)
        modules = {rel[:-len("/__init__.py")].replace("/", "."): sorted(_all(_tree(root, rel)))
                   for rel in MODULES}
        for rel in CLASS_MODULES:
            tree = _tree(root, rel)
            modules[rel[:-len(".py")].replace("/", ".")] = sorted(
                n.name for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_"))
        own = {cls: _members(_tree(root, rel), cls) for rel, cls, _ in CLASSES}
        classes = {}
        for _, cls, bases in CLASSES:
            names = set(own[cls])
            for base in bases:
                names |= own[base]
            classes[cls] = sorted(names)
    out = Path(__file__).resolve().parents[1] / "tests" / "migration" / "v1_public_names.json"
    found = {"versions": versions, "modules": modules, "classes": classes}
    out.write_text(json.dumps(found, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
