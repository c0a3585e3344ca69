"""Benchmark: a 100,000-point metric chart while 2,000 points/s arrive, in headless Chromium; and
what the charts add to the step bundle.

The built StepRunWidget bundle renders with a stand-in model (js/bench/metrics_stream.html): one
``metric_snapshot`` of 100,000 points, then ``metric`` messages every 10 ms for 5 s, each with
the points due by then at 2,000 points/s.
Measured while the points stream: the longest main-thread task (PerformanceObserver ``longtask``;
tasks under 50 ms are not reported, so 0 means none), animation frames, canvas redraws (uPlot's
``draw`` hook) and the most redraws within one frame; beside it the naive chart (uPlot given the
whole series again on every message). Bars: longest task < 100 ms, at most one redraw
per frame.

Bundle: ``step_widget.js`` now against the same file before the metrics (``BEFORE``, when that
commit is in the clone), and the bytes uPlot and the metrics modules take in a fresh build
(``js/build.mjs``, the ``npm run build`` script, with esbuild's metafile). Bar: the metrics grow
the step bundle by <= 60 kB (60,000 bytes), judged on that share (the whole file also grew by
later, unrelated work on the step view).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.bench.report import publish, table
from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS
from tests.static_pages import ROOT, serve_repository

BEFORE = "badc25f"  # the last commit before the metrics frontend (the metrics charts' groundwork)
BUNDLE = "steprun_widgets/widgets/static/step_widget.js"
METRICS_INPUTS = ("node_modules/uplot/", "src/metric")  # uPlot, metric_chart.js, metrics_*.js
GROWTH_BAR = 60_000


@pytest.fixture(scope="module")
def page_url():
    with serve_repository() as base:
        yield f"{base}/js/bench/metrics_stream.html"


def _measure(url: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_function("window.benchResult !== undefined", timeout=180_000)
            assert not errors, errors
            return page.evaluate("window.benchResult")
        finally:
            browser.close()


def _bundle_sizes(tmp: Path) -> dict:
    """Sizes of the step bundle: committed now, before the metrics, and the metrics' share."""
    now = (ROOT / BUNDLE).stat().st_size
    shown = subprocess.run(["git", "show", f"{BEFORE}:{BUNDLE}"], cwd=ROOT, capture_output=True)
    before = len(shown.stdout) if shown.returncode == 0 else None
    meta = tmp / "meta.json"
    subprocess.run(["node", "build.mjs", f"--outdir={tmp}", f"--metafile={meta}"], cwd=ROOT / "js",
                   check=True)
    outputs = json.loads(meta.read_text())["outputs"]
    inputs = next(v for k, v in outputs.items() if k.endswith("step_widget.js"))["inputs"]
    share = {name: v["bytesInOutput"] for name, v in inputs.items() if name.startswith(METRICS_INPUTS)}
    return {"now": now, "before": before, "share": share}


@pytest.mark.bench
def test_bench_metrics_chart_streaming_and_bundle(page_url, tmp_path):
    widget = _measure(page_url)
    smoothed = _measure(page_url + "?smooth=0.6")
    naive = _measure(page_url + "?naive=1")
    sizes = _bundle_sizes(tmp_path)
    rows = [("StepRunWidget chart (frame-batched, downsampled)", widget),
            ("the same with smoothing 0.6 (two lines)", smoothed),
            ("naive: uPlot setData of the whole series per message", naive)]
    growth = sizes["now"] - sizes["before"] if sizes["before"] is not None else None
    share = sum(sizes["share"].values())
    # What the charts add is their modules' share of a fresh build; the whole file's growth since
    # BEFORE also holds later work on the step view, so it is printed, not judged.
    measured_growth = share
    task_ok = max(widget["longestTaskMs"], smoothed["longestTaskMs"]) < 100
    frame_ok = all(r["maxRedrawsPerFrame"] <= 1 and r["redraws"] <= r["frames"] for r in (widget, smoothed))
    size_ok = measured_growth <= GROWTH_BAR
    before_text = f"{sizes['before']:,}" if sizes["before"] is not None else "(commit not in clone)"
    publish("metrics_chart", "\n".join([
        f"Metric chart: {widget['initial']:,} points, then {widget['streamed']:,} more as "
        f"{widget['messages']:,} metric messages over {widget['seconds']:.1f} s "
        f"({widget['pointsPerSecond']:,.0f} points/s), headless Chromium",
        table(["way", "longest task ms", "long tasks", "frames", "redraws", "max redraws/frame",
               "points shown"],
              [(name, f"{r['longestTaskMs']:.0f}", r["longTasks"], r["frames"], r["redraws"],
                r["maxRedrawsPerFrame"], f"{r['finalCount']:,}") for name, r in rows]),
        f"naive / widget: {naive['redraws'] / max(1, widget['redraws']):.1f}x redraws, longest task "
        f"{naive['longestTaskMs']:.0f} ms vs {widget['longestTaskMs']:.0f} ms",
        "",
        f"Step bundle ({BUNDLE}): before the metrics ({BEFORE}) {before_text} bytes, now "
        f"{sizes['now']:,} bytes"
        + (f", growth {growth:,} bytes ({growth / 1024:.1f} KiB)" if growth is not None else ""),
        table(["part of a fresh build", "bytes minified"],
              [*sorted(sizes["share"].items()), ("total", share)]),
        f"bar: longest task < 100 ms -> {'met' if task_ok else 'NOT met'} "
        f"({widget['longestTaskMs']:.0f} ms, smoothed {smoothed['longestTaskMs']:.0f} ms); "
        f"at most one redraw per frame -> {'met' if frame_ok else 'NOT met'} "
        f"(max {widget['maxRedrawsPerFrame']} in a frame, {widget['redraws']} redraws in "
        f"{widget['frames']} frames); "
        f"metrics' share of the bundle <= {GROWTH_BAR:,} bytes -> {'met' if size_ok else 'NOT met'} "
        f"({measured_growth:,})",
    ]))
    for r in (widget, smoothed, naive):
        assert r["finalCount"] == r["expectedCount"], "every streamed point reached the chart"
    for r in (widget, smoothed):
        assert r["maxRedrawsPerFrame"] <= 1  # a count: the chart redraws at most once a frame
        assert r["redraws"] <= r["frames"]
        assert r["redraws"] > 0, "the chart kept redrawing while points arrived"
    assert measured_growth <= GROWTH_BAR  # bytes: a count
