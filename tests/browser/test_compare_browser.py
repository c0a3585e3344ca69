"""The comparison and the reuse reasons in JupyterLab (Chromium): two real pipeline runs that differ
in one argument; RunComparison lists the differing parameter first, draws the loss of both runs in
one chart (two lines), and hovering reads both values; the pipeline widget's node tooltip says why
the step ran. Screenshots kept in the artifacts."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from steprun_widgets.core import layout
from tests.browser.lab import run_until, write_notebook

TRAIN = textwrap.dedent("""
    import sys
    from steprun_widgets import Run
    lr = float(sys.argv[2])
    run = Run.get_context()
    for epoch in range(30):
        run.log("loss", 1.0 / (1 + epoch * lr * 3))
""")


def _lit(page, selector: str, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the canvas under ``selector`` are (nearly) this colour."""
    return page.evaluate("""([sel, rgb]) => {
        const c = document.querySelector(sel);
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        const near = (i) => Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1])
            + Math.abs(d[i + 2] - rgb[2]) < 60;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && near(i)) n++;
        return n; }""", [selector, list(rgb)])


def test_comparison_and_reuse_reason_in_lab(lab, page, experiment_name, artifacts_dir):
    src = Path(lab.root) / f"src-{experiment_name}"
    src.mkdir()
    (src / "train.py").write_text(TRAIN, encoding="utf-8")
    nb = write_notebook(Path(lab.root) / f"{experiment_name}.ipynb", [
        "import steprun_widgets\n"
        "from steprun_widgets import Workspace, Experiment, PipelineRunWidget\n"
        "from steprun_widgets.local import Pipeline, PythonScriptStep\n"
        "ws = Workspace()\n"
        f"exp = Experiment(ws, {experiment_name!r})\n"
        "runs = []\n"
        "for lr in ('0.1', '0.01'):\n"
        "    step = PythonScriptStep('train.py', name='train', arguments=['--lr', lr],\n"
        f"                            source_directory={str(src)!r})\n"
        "    runs.append(exp.submit(Pipeline(ws, [step])))\n"
        "    runs[-1].wait_for_completion(show_output=False)",
        "steprun_widgets.compare(*runs)",
        "PipelineRunWidget(runs[1])",
    ])
    run_until(page, f"{lab.url}/lab/tree/{nb.name}", ".rcw-root", timeout_s=180)
    widget = page.locator(".rcw-root").first

    params = widget.get_by_test_id("rcw-params")
    params.wait_for(timeout=30_000)
    rows = params.locator("tbody tr")
    assert rows.count() == 1  # only the differing one at first
    assert rows.first.inner_text().split("\t")[0].strip() == f"≠ train/{layout.PARAM_ARGUMENTS}"
    widget.get_by_test_id("rcw-params-toggle").click()
    assert rows.count() > 1 and rows.first.inner_text().startswith("≠")

    chart = widget.get_by_test_id("srw-chart-train/loss")
    chart.wait_for(timeout=30_000)
    assert widget.locator("figure.srw-chart").count() == 1
    canvas = '.rcw-root [data-testid="srw-chart-train/loss"] canvas'
    page.wait_for_function(f"() => document.querySelector('{canvas}')", timeout=30_000)
    time.sleep(0.5)
    blue, red = _lit(page, canvas, (0x09, 0x69, 0xDA)), _lit(page, canvas, (0xCF, 0x22, 0x2E))
    assert blue > 30 and red > 30, (blue, red)  # one chart, two lines

    plot = chart.get_by_test_id("srw-chart-plot")
    box = plot.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    readout = chart.get_by_test_id("srw-chart-readout")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and readout.inner_text().startswith("last:"):
        time.sleep(0.1)
    text = readout.inner_text()
    assert text.startswith("step ") and "#1 " in text and "#2 " in text, text
    widget.screenshot(path=str(artifacts_dir / "compare_lab.png"))

    pipeline = page.locator(".prw-root").first
    pipeline.wait_for(timeout=60_000)
    title = pipeline.locator("g.prw-node title").first
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "Why:" not in (title.text_content() or ""):
        time.sleep(0.2)
    assert "Why: ran: argument --lr 0.1 → 0.01 since run " in title.text_content()
    pipeline.locator("g.prw-node").first.click()
    why = pipeline.get_by_test_id("prw-detail-why")
    why.wait_for(timeout=30_000)
    assert why.inner_text().startswith("Why: ran: argument --lr 0.1 → 0.01")
    pipeline.screenshot(path=str(artifacts_dir / "reuse_reason_lab.png"))
