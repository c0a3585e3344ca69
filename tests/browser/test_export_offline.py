"""An executed notebook exported with ``jupyter nbconvert --to html`` and opened with the network off.

With widget state saved, nbconvert writes the widget views as scripts that need the widget manager
from a CDN; offline they cannot render, and the static snapshot (the "companion" output) must show
the run. Without widget state, nbconvert renders the outputs' HTML: the same snapshot. Either way
the page shows the run's last state once (no stale or duplicate copy), the log text is visible as
text, and nothing from the server runs as script.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.browser.lab import write_notebook
from tests.notebooks.helpers import WIDGET_VIEW, execute, text
from tests.static_pages import offline_context

PAYLOAD_SCRIPT = "<script>window.__xss = 1</script>"
PAYLOAD_IMG = '<img src=x onerror="window.__xss = 2">'
HELLO = f"""
    import pathlib, sys, time
    time.sleep(1.5)
    for i in range(8):
        print(f"hello from the step, line {{i}}", flush=True)
        time.sleep(0.2)
    print({PAYLOAD_SCRIPT!r}, flush=True)
    print({PAYLOAD_IMG!r}, flush=True)
    (pathlib.Path(sys.argv[1]) / "greeting.txt").write_text("hello")
"""
BYE = """
    print("bye: read the greeting", flush=True)
"""


def _make_notebook(folder: Path, experiment_name: str) -> Path:
    for name, code in {"hello": HELLO, "bye": BYE}.items():
        (folder / "src" / name).mkdir(parents=True)
        (folder / "src" / name / f"{name}.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    path = write_notebook(folder / "export.ipynb", [
        "from steprun_widgets import Workspace, Experiment, PipelineRunWidget, StepRunWidget\n"
        "from steprun_widgets.local import Pipeline, PythonScriptStep, PipelineData\n"
        "ws = Workspace()\n"
        "greeting = PipelineData('greeting')\n"
        "steps = [PythonScriptStep('hello.py', name='hello', arguments=[greeting], outputs=[greeting],\n"
        "                          source_directory='src/hello', allow_reuse=False),\n"
        "         PythonScriptStep('bye.py', name='bye', arguments=[greeting], inputs=[greeting],\n"
        "                          source_directory='src/bye', allow_reuse=False)]\n"
        f"run = Experiment(ws, {experiment_name!r}).submit(Pipeline(ws, steps))",
        # shown while the run goes on: what they save must be the last state, not this one
        "pipeline_widget = PipelineRunWidget(run)\npipeline_widget",
        "step_widget = StepRunWidget(run.find_step_run('hello')[0])\nstep_widget",
        "import time\n"
        "assert run.wait_for_completion(show_output=False) == 'Finished'\n"
        "# nbclient keeps only what arrives while a cell runs: let the poller's last refresh land here\n"
        "deadline = time.monotonic() + 60\n"
        "widgets = (pipeline_widget, step_widget)\n"
        "while not all(w.watch.final for w in widgets) and time.monotonic() < deadline:\n"
        "    time.sleep(0.1)\n"
        "time.sleep(1.0)\n"
        "print(pipeline_widget.status, step_widget.status)",
    ])
    nb = json.loads(path.read_text(encoding="utf-8"))  # cell ids, as nbformat 4.5 wants them
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"cell-{i}"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def _export(path: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(path)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return path.with_suffix(".html")


def _open_offline(browser, html: Path, shot: Path) -> dict:
    """Open the page with the network off; screenshot it; return what the checks need."""
    context, aborted = offline_context(browser, 1100)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(html.as_uri(), wait_until="load", timeout=60_000)
        page.wait_for_timeout(1000)  # let the page's scripts fail on the missing network
        page.screenshot(path=str(shot), full_page=True)
        visible = page.evaluate("""() => [...document.querySelectorAll('.srw-snap')]
            .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height > 0)
            .map(e => ({kind: e.classList.contains('srw-snapshot-pipeline') ? 'pipeline' : 'step',
                        text: e.innerText, images: e.querySelectorAll('img').length,
                        scripts: e.querySelectorAll('script').length,
                        graph: [...e.querySelectorAll('svg.srw-graph')]
                          .map(g => Math.round(g.getBoundingClientRect().width)),
                        nameAlign: [...e.querySelectorAll('td.srw-name')]
                          .map(c => getComputedStyle(c).textAlign),
                        logFont: [...e.querySelectorAll('pre.srw-log')]
                          .map(p => getComputedStyle(p).fontFamily)}))""")
        return {
            "visible": visible,
            "all_snapshots": page.locator(".srw-snap").count(),
            "scripts_in_snapshots": page.locator(".srw-snap script").count(),
            "xss": page.evaluate("window.__xss"),
            "payload_visible": page.get_by_text(PAYLOAD_SCRIPT).first.is_visible(),
            "log_visible": page.get_by_text("hello from the step, line 7").first.is_visible(),
            "aborted": aborted,
            "dialogs": dialogs,
        }
    finally:
        context.close()


@pytest.mark.parametrize("store_widget_state", [True, False], ids=["with-state", "without-state"])
def test_exported_notebook_shows_the_run_offline(browser, tmp_path, tracking_uri, experiment_name,
                                                 artifacts_dir, store_widget_state):
    path = _make_notebook(tmp_path, experiment_name)
    try:
        nb = execute(path, tracking_uri, store_widget_state=store_widget_state, timeout=180)
    finally:  # the runner's work folder went to the notebook's own TMPDIR; the sources are ours
        shutil.rmtree(tmp_path / "tmp", ignore_errors=True)
    assert text(nb.cells[-1].outputs[-1].get("text")).strip() == "Finished Finished"
    assert ("widgets" in nb.metadata) == store_widget_state
    companions = [text(o["data"]["text/html"]) for c in nb.cells for o in c.outputs
                  if "srw-snapshot-companion" in text(o.get("data", {}).get("text/html"))]
    assert len(companions) == 2
    assert all("<script" not in html.lower() for html in companions), "a snapshot holds no script"
    assert all("&lt;script&gt;window.__xss" in html for html in companions if "srw-snapshot-step" in html)

    html = _export(path)
    source = html.read_text(encoding="utf-8")
    views = source.count(f'<script type="{WIDGET_VIEW}">')
    assert views == (2 if store_widget_state else 0), views

    label = "with_state" if store_widget_state else "without_state"
    seen = _open_offline(browser, html, artifacts_dir / f"export_{label}.png")
    assert not seen["dialogs"] and seen["xss"] is None, seen
    assert seen["scripts_in_snapshots"] == 0
    assert all(v["images"] == 0 for v in seen["visible"]), "the payload's <img> is text, not an image"
    assert not [u for u in seen["aborted"] if "127.0.0.1" in u], "the page never calls the server"

    # one visible snapshot per widget, each at the last state (a stale copy would say Running)
    kinds = sorted(v["kind"] for v in seen["visible"])
    assert kinds == ["pipeline", "step"], seen["visible"]
    pipeline = next(v["text"] for v in seen["visible"] if v["kind"] == "pipeline")
    step = next(v["text"] for v in seen["visible"] if v["kind"] == "step")
    assert "✔ Finished" in pipeline and "2 Finished" in pipeline
    assert "hello" in pipeline and "bye" in pipeline
    for stale in ("Running", "Queued", "NotStarted"):
        assert stale not in pipeline and stale not in step, (pipeline, step)
    assert "✔ Finished" in step and "greeting" in step
    assert seen["log_visible"] and seen["payload_visible"], "log text, the payload too, shows as text"
    # the rich snapshot: the graph is drawn, step names are left-aligned (the page's CSS right-aligns table
    # cells) and the log is in a monospace font
    shown = {v["kind"]: v for v in seen["visible"]}
    assert len(shown["pipeline"]["graph"]) == 1 and shown["pipeline"]["graph"][0] > 300, shown["pipeline"]
    assert "Steps" in pipeline and "reused from" in pipeline
    # each step's start offset on the timeline; its value depends on how fast the machine ran the steps
    assert re.search(r"\+\d+(h|m|s)\b", pipeline), pipeline
    for v in shown.values():
        assert v["nameAlign"] and set(v["nameAlign"]) == {"left"}, v["nameAlign"]
    assert shown["step"]["logFont"] and all("monospace" in f for f in shown["step"]["logFont"])
