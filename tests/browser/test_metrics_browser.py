"""Metric charts end to end: a real step logs its loss with ``Run.get_context()`` (and an image),
MLflow's own client adds a parameter, the kernel's StepRunWidget ships them, and in JupyterLab
(Chromium) the chart grows while the step runs, hover reads a point out, the tables and the
thumbnail show, and the dark theme repaints the canvas (screenshots kept in the artifacts)."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from tests.browser.lab import run_until, write_notebook
from tests.browser.test_step_widget_browser import choose_theme

XSS = '<img src=x onerror="window.__xss=1">'
STEP_SCRIPT = textwrap.dedent(f"""
    import math, struct, time, zlib
    from steprun_widgets import Run

    def png(path, w=24, h=16):  # a small gradient PNG, no imaging library needed
        rows = b"".join(b"\\0" + b"".join(bytes((x * 10, y * 15, 160)) for x in range(w)) for y in range(h))
        chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
        with open(path, "wb") as f:
            f.write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                    + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))

    run = Run.get_context()
    run.log("final_acc", 0.93, description={XSS!r})
    png("sample.png")
    run.log_image("sample", path="sample.png")
    for i in range(60):
        run.log("loss", 2 / math.sqrt(i + 1), description="training loss")
        print(f"epoch {{i}}", flush=True)
        time.sleep(0.4)
""")


def _count(plot) -> int:
    try:
        label = plot.get_attribute("aria-label", timeout=2_000) or ""
    except Exception:
        return 0
    return int(label.split(": ", 1)[1].split(" points", 1)[0]) if " points" in label else 0


def test_live_chart_grows_while_the_step_runs(lab, page, experiment_name, artifacts_dir):
    src = Path(lab.root) / f"src-{experiment_name}"
    src.mkdir()
    (src / "train.py").write_text(STEP_SCRIPT, encoding="utf-8")
    nb = write_notebook(Path(lab.root) / f"{experiment_name}.ipynb", [
        "import os\n"
        "from mlflow.tracking import MlflowClient\n"
        "from steprun_widgets import Workspace, Experiment, StepRunWidget\n"
        "from steprun_widgets.local import Pipeline, PythonScriptStep\n"
        "ws = Workspace()\n"
        f"step = PythonScriptStep('train.py', name='train', source_directory={str(src)!r},\n"
        "                        allow_reuse=False)\n"
        f"run = Experiment(ws, {experiment_name!r}).submit(Pipeline(ws, [step]))\n"
        "step_run = run.find_step_run('train')[0]\n"
        "MlflowClient(os.environ['STEPRUN_TRACKING_URI']).log_param(\n"
        f"    step_run.id, 'note', {XSS!r})  # MLflow allows markup in values, not in keys",
        "StepRunWidget(step_run)",
    ])
    run_until(page, f"{lab.url}/lab/tree/{nb.name}", ".srw-root")

    widget = page.locator(".srw-root").first
    chart = widget.get_by_test_id("srw-chart-loss")
    chart.wait_for(timeout=120_000)
    plot = chart.get_by_test_id("srw-chart-plot")
    counts: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(counts) < 3:
        n = _count(plot)
        if widget.get_by_test_id("srw-status").inner_text().strip() != "Running":
            break
        if not counts or n > counts[-1]:
            counts.append(n)
        time.sleep(0.3)
    assert len(counts) >= 3, f"the chart should grow while the step runs: {counts}"
    assert chart.inner_text().startswith("loss")
    lit = page.evaluate("""() => {
        const c = document.querySelector('[data-testid="srw-chart-loss"] canvas');
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 200) n++;
        return n; }""")
    assert lit > 100, "the canvas has a line"

    box = plot.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.4)
    readout = chart.get_by_test_id("srw-chart-readout")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and readout.inner_text().startswith("last:"):
        time.sleep(0.1)
    text = readout.inner_text()
    assert text.startswith("step ") and len(text.split(" · ")) == 3, text
    assert float(text.split(" · ")[1]) > 0

    # The keyboard works inside JupyterLab: the notebook does not take the arrow keys (ArrowUp
    # would select the cell above and leave the slider where it was).
    active = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active"
    cell_before = page.locator(active).first.evaluate("c => [...c.parentElement.children].indexOf(c)")
    slider = widget.get_by_test_id("srw-smoothing")
    slider.focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowUp"):
        page.keyboard.press(key)
    assert float(slider.input_value()) == 0.03, slider.input_value()
    plot.focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    assert readout.inner_text().startswith("step 1 · "), readout.inner_text()
    cell_after = page.locator(active).first.evaluate("c => [...c.parentElement.children].indexOf(c)")
    assert cell_after == cell_before, "the arrow keys moved the notebook's active cell"

    # Descriptions come with the metrics trait (refreshed every few seconds), not with the messages.
    chart.locator(".srw-chart-desc", has_text="training loss").wait_for(timeout=60_000)
    scalars = widget.get_by_test_id("srw-scalars")
    assert "final_acc" in scalars.inner_text()
    assert scalars.locator("tbody th").first.get_attribute("title") == XSS
    params = widget.get_by_test_id("srw-params")
    params.wait_for(timeout=30_000)
    assert XSS in params.inner_text()
    assert "steprun.script" in params.inner_text()
    thumb = widget.get_by_test_id("srw-image-sample").locator("img")
    thumb.wait_for(timeout=60_000)
    assert thumb.get_attribute("src").startswith("data:image/png;base64,")
    assert thumb.evaluate("img => img.complete && img.naturalWidth") == 24
    assert page.evaluate("window.__xss") is None

    widget.screenshot(path=str(artifacts_dir / "metrics_lab_light.png"))
    choose_theme(page, "JupyterLab Dark")
    try:
        time.sleep(1.5)  # the theme's variables apply; the area reads them again and repaints
        widget.screenshot(path=str(artifacts_dir / "metrics_lab_dark.png"))
        assert widget.evaluate("el => getComputedStyle(el).backgroundColor") != "rgb(255, 255, 255)"
    finally:
        choose_theme(page, "JupyterLab Light")
