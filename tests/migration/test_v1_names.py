"""Every public name of Azure ML SDK v1's pipeline packages either works here or fails with a
message that says what to do: never a bare ImportError or AttributeError.

The names come from Microsoft's published v1 wheels (``v1_public_names.json``, written by
``scripts/v1_public_names.py`` from their ``__all__`` lists and class bodies), not from this
package's own tables.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import steprun_widgets
from steprun_widgets import Experiment, PipelineRun, PortDataReference, Run, StepRun, StepRunOutput, Workspace
from steprun_widgets.errors import StepRunError, V1MemberNotSupportedError, V1NotSupportedError
from steprun_widgets.local import Pipeline, PipelineData, PipelineDefinitionError, PythonScriptStep

V1 = json.loads((Path(__file__).parent / "v1_public_names.json").read_text())
GUIDE = Path(__file__).parents[2] / "docs" / "migration-from-azureml-v1.md"
MODULE_NAMES = sorted({n for names in V1["modules"].values() for n in names if not n.startswith("_")})
OURS = {"Workspace": Workspace, "Experiment": Experiment, "PipelineRun": PipelineRun, "StepRun": StepRun,
        "StepRunOutput": StepRunOutput, "PortDataReference": PortDataReference, "Pipeline": Pipeline,
        "PipelineData": PipelineData, "Run": Run}
MEMBERS = sorted((cls, m) for cls, names in V1["classes"].items() for m in names)


def _anchors() -> set[str]:
    """The guide's section anchors, as GitHub and the docs site spell them."""
    heads = re.findall(r"^#+ (.+)$", GUIDE.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


ANCHORS = _anchors()


def _says_what_to_do(error: StepRunError, name: str) -> None:
    assert name in error.message
    linked = re.findall(r"docs/migration-from-azureml-v1\.md#([\w-]+)", error.message)
    assert linked and linked[0] in ANCHORS, error.message


def test_the_list_comes_from_microsofts_packages():
    assert V1["versions"]["azureml-core"].startswith("1.") and len(MODULE_NAMES) > 120
    assert {"Dataset", "Model", "PublishedPipeline", "ParallelRunStep", "InteractiveLoginAuthentication",
            "DataPathComputeBinding", "DatasetConsumptionConfig"} <= set(MODULE_NAMES)


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_every_v1_module_name_imports_or_says_what_to_do(name):
    imported = []
    for module in ("steprun_widgets", "steprun_widgets.local"):
        try:
            exec(f"from {module} import {name}", {})
            imported.append(module)
        except V1NotSupportedError as exc:
            _says_what_to_do(exc, name)
        except (ImportError, AttributeError) as exc:  # the bare error this test exists to forbid
            pytest.fail(f"from {module} import {name}: bare {type(exc).__name__}: {exc}")
    # A name implemented in one of the two modules says where it is in the other.
    if imported and len(imported) == 1:
        other = ({"steprun_widgets", "steprun_widgets.local"} - set(imported)).pop()
        with pytest.raises(V1NotSupportedError, match=f"import it from {re.escape(imported[0])}"):
            exec(f"from {other} import {name}", {})


@pytest.mark.parametrize(("v1_class", "member"), MEMBERS)
def test_every_v1_member_works_or_says_what_to_do(v1_class, member):
    cls = OURS[v1_class]
    try:
        getattr(cls, member)
    except V1MemberNotSupportedError as exc:
        _says_what_to_do(exc, f"{v1_class}.{member}")
        assert isinstance(exc, AttributeError) and not hasattr(cls, member)  # hasattr keeps working


def test_on_instances_too_and_the_names_that_now_map():
    ws = Workspace("http://127.0.0.1:9")  # nothing below talks to it
    step = StepRun(Experiment(ws, "e"), "a" * 32, "b" * 32, None)
    with pytest.raises(V1MemberNotSupportedError, match=r"StepRun\.get_file_names .*get_output_data"):
        step.get_file_names()
    with pytest.raises(V1MemberNotSupportedError, match=r"Workspace\.set_default_datastore"):
        ws.set_default_datastore("other")
    with pytest.raises(AttributeError) as plain:
        step.no_such_thing  # noqa: B018  -- not a v1 name: Python's own error
    assert not isinstance(plain.value, StepRunError)
    assert isinstance(step.parent, PipelineRun) and step.parent.id == "b" * 32
    assert steprun_widgets.__version__ == steprun_widgets.VERSION
    with pytest.raises(V1MemberNotSupportedError, match=r"Run\.input_datasets|Run\.get_secret"):
        Run.get_context().get_secret("x")


def test_step_names_with_spaces_are_valid_and_long_names_are_cut(tmp_path):
    (tmp_path / "s.py").write_text("print('hi')\n")
    step = PythonScriptStep("s.py", name="Cleanse Green Taxi Data", source_directory=tmp_path)
    assert step.name == "Cleanse Green Taxi Data"
    for bad in ("a/b", " padded", "x" * 10_000, "tab\there"):
        with pytest.raises(PipelineDefinitionError) as caught:
            PythonScriptStep("s.py", name=bad, source_directory=tmp_path)
        assert len(caught.value.message) < 300
