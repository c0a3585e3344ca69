"""The core client is usable alone; the import graph runs one way (core ← local, widgets)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import steprun_widgets.core
from steprun_widgets import Experiment, Workspace
from steprun_widgets.core.submission import Submittable
from steprun_widgets.errors import StepRunError

CORE = Path(steprun_widgets.core.__file__).parent
ABOVE = ("steprun_widgets.local", "steprun_widgets.widgets")
# The one documented door to the embedded engine: Workspace.local() starts the embedded server.
ALLOWED = {("workspace.py", "Workspace.local", "steprun_widgets.local.server")}


def _imports(path: Path) -> list[tuple[str, str]]:
    """(enclosing qualified name, imported module) for every import statement in ``path``."""
    found: list[tuple[str, str]] = []

    def visit(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, [*scope, child.name])
                continue
            if isinstance(child, ast.Import):
                found.extend((".".join(scope), alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                module = child.module
                if child.level:
                    package = ["steprun_widgets", "core"]
                    module = ".".join(package[: len(package) - child.level + 1] + [module])
                found.extend((".".join(scope), f"{module}.{alias.name}") for alias in child.names)
                found.append((".".join(scope), module))
            visit(child, scope)

    visit(ast.parse(path.read_text(encoding="utf-8")), [])
    return found


def test_no_core_module_imports_the_engine_or_the_widgets():
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for scope, module in _imports(path):
            if not module.startswith(ABOVE):
                continue
            if any(path.name == f and scope == s and module.startswith(m) for f, s, m in ALLOWED):
                continue
            offenders.append(f"{path.relative_to(CORE.parent)}: {scope or '<module>'} imports {module}")
    assert offenders == []


def test_the_checker_sees_a_lazy_import_inside_a_method(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("class A:\n    def f(self):\n        from steprun_widgets.local.submit import x\n")
    assert ("A.f", "steprun_widgets.local.submit") in _imports(probe)


def test_the_door_is_still_there():
    assert ("Workspace.local", "steprun_widgets.local.server") in _imports(CORE / "workspace.py")


def test_a_local_pipeline_is_submittable():
    from steprun_widgets.local import Pipeline

    assert hasattr(Pipeline, "submit_to")


def test_submit_of_something_that_cannot_submit_itself_names_it():
    experiment = Experiment(Workspace("http://127.0.0.1:9"), "exp")
    with pytest.raises(StepRunError) as info:
        experiment.submit(["not", "a", "pipeline"])
    assert "'exp'" in str(info.value) and "['not', 'a', 'pipeline']" in str(info.value)
    assert not isinstance(["x"], Submittable)
