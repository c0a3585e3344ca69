"""Clicks while a cell blocks the kernel: downloads and step views work during the cell.

Two blocking cells a notebook really has: our own ``run.wait_for_completion()`` and a plain
``time.sleep`` loop (a user's training loop). While each runs, the test downloads an output from a
StepRunWidget, opens a step view in a PipelineRunWidget and downloads from it; only then does it let
the pipeline (and so the cell) end.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
import requests

from tests.browser.lab import run_until, write_notebook
from tests.browser.test_pipeline_widget_browser import _cleanup, _wait

PREP = """
    import pathlib, sys
    out = pathlib.Path(sys.argv[1])
    (out / "part-0.csv").write_text("a,b\\n1,2\\n")
    (out / "part-1.csv").write_text("a,b\\n3,4\\n")
    print("prep: wrote 2 parts", flush=True)
"""
# train holds the pipeline open until the test creates the release file (at most 3 minutes)
TRAIN = """
    import pathlib, sys, time
    release = pathlib.Path(sys.argv[1])
    deadline = time.monotonic() + 180
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    print("train: released", flush=True)
"""

BLOCKING = {
    "wait_for_completion": "run.wait_for_completion(show_output=False)",
    "sleep_loop": "import time\nwhile run.get_status() not in ('Finished', 'Failed', 'Canceled'):\n"
                  "    time.sleep(0.5)",
}


def _node(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:8]


def _cells(src: Path, release: Path, experiment_name: str, blocking: str) -> list[str]:
    return [
        "from steprun_widgets import Workspace, Experiment, PipelineRunWidget, StepRunWidget\n"
        "from steprun_widgets.local import Pipeline, PythonScriptStep, PipelineData\n"
        "import time\n"
        "ws = Workspace()\n"
        "data = PipelineData('dataset')\n"
        f"steps = [PythonScriptStep('prep.py', name='prep', arguments=[data], outputs=[data],\n"
        f"                          source_directory={str(src)!r}, allow_reuse=False),\n"
        f"         PythonScriptStep('train.py', name='train', arguments=[{str(release)!r}], inputs=[data],\n"
        f"                          source_directory={str(src)!r}, allow_reuse=False)]\n"
        f"run = Experiment(ws, {experiment_name!r}).submit(Pipeline(ws, steps))\n"
        "while not run.find_step_run('prep'):\n"
        "    time.sleep(0.2)\n"
        "prep = run.find_step_run('prep')[0]",
        "PipelineRunWidget(run)",
        "StepRunWidget(prep)",
        "prep.wait_for_completion(show_output=False)",
        BLOCKING[blocking],
    ]


def _zip_names(path: Path) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return set(archive.namelist())


KERNEL_SETTINGS = "/lab/api/settings/@jupyterlab/apputils-extension:kernels-settings"


def _comms_over_subshells(lab, value: str | None) -> None:
    """Lab's "Kernel Comms over subshells" setting (None: its default, one per comm target)."""
    raw = "{}" if value is None else f'{{"commsOverSubshells": "{value}"}}'
    requests.put(lab.url + KERNEL_SETTINGS, json={"raw": raw}, timeout=10).raise_for_status()


@pytest.mark.parametrize("blocking,frontend_subshells", [
    ("wait_for_completion", True), ("sleep_loop", True),
    # a frontend that sends comm messages to the main shell: the kernel routes ours to a subshell
    ("sleep_loop", False)])
def test_clicks_work_while_a_cell_blocks(lab, page, experiment_name, artifacts_dir, tracking_uri,
                                         tmp_path, blocking, frontend_subshells):
    src = Path(lab.root) / f"src-{experiment_name}"
    src.mkdir()
    (src / "prep.py").write_text(textwrap.dedent(PREP).lstrip(), encoding="utf-8")
    (src / "train.py").write_text(textwrap.dedent(TRAIN).lstrip(), encoding="utf-8")
    release = tmp_path / "release"
    nb = write_notebook(Path(lab.root) / f"{experiment_name}.ipynb",
                        _cells(src, release, experiment_name, blocking))
    if not frontend_subshells:
        _comms_over_subshells(lab, "disabled")
    try:
        run_until(page, f"{lab.url}/lab/tree/{nb.name}", ".srw-root [data-testid='srw-download-dataset']")
        prompts = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt")
        # the last cell is running (blocking the kernel): its prompt says [*]
        _wait(lambda: "[*]" in prompts.last.inner_text(), 60, "the blocking cell to run")
        time.sleep(1.0)
        assert "[*]" in prompts.last.inner_text()

        step_widget = page.locator(".srw-root").filter(
            has=page.get_by_test_id("srw-download-dataset")).last
        with page.expect_download(timeout=30_000) as info:
            step_widget.get_by_test_id("srw-download-dataset").click()
        saved = tmp_path / "dataset.zip"
        info.value.save_as(saved)
        assert _zip_names(saved) == {"dataset/part-0.csv", "dataset/part-1.csv"}

        pipeline = page.locator(".prw-root").first
        pipeline.get_by_test_id(f"prw-node-{_node('prep')}").click()
        detail = pipeline.get_by_test_id("prw-detail")
        _wait(lambda: detail.locator(".srw-line", has_text="prep: wrote 2 parts").count() == 1, 30,
              "prep's step view, opened while the cell runs")
        with page.expect_download(timeout=30_000) as info:
            detail.get_by_test_id("srw-download-dataset").click()
        saved = tmp_path / "dataset-pane.zip"
        info.value.save_as(saved)
        assert _zip_names(saved) == {"dataset/part-0.csv", "dataset/part-1.csv"}
        assert "[*]" in prompts.last.inner_text(), "all of it happened while the cell ran"
        # the kernel serves clicks beside the cell, so no view says they wait for it
        assert not page.locator(".srw-busy-note:not([hidden])").count()
        if not frontend_subshells:
            sent = page.evaluate("() => [...window.jupyterapp.shell.currentWidget.sessionContext.session"
                                 ".kernel._comms.values()].map(c => c.subshellId)")
            assert sent and not any(sent), f"comms should go to the main shell here: {sent}"
        pipeline.screenshot(path=str(artifacts_dir / f"busy_kernel_{blocking}.png"))

        release.write_text("go")
        _wait(lambda: "[*]" not in prompts.last.inner_text(), 90, "the blocking cell to end")
    finally:
        if not frontend_subshells:
            _comms_over_subshells(lab, None)
        release.write_text("go")
        _cleanup(tracking_uri, experiment_name)
