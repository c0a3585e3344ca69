"""Benchmark: 10 MB of log lines arriving in the StepRunWidget view, in headless Chromium.

The built bundle renders with a stand-in model (js/bench/log_stream.html) and receives the lines as
``log`` messages, 256 KiB each, 20 ms apart. Measured: the longest main-thread task
(PerformanceObserver ``longtask``; tasks under 50 ms are not reported, so 0 means none) and the
largest DOM of the log view, beside the naive panel that appends one element per line.
"""

from __future__ import annotations

import pytest

from tests.bench.report import publish, table
from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS
from tests.static_pages import serve_repository


@pytest.fixture(scope="module")
def page_url():
    with serve_repository() as base:
        yield f"{base}/js/bench/log_stream.html"


def _measure(url: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(url)
            page.wait_for_function("window.benchResult !== undefined", timeout=180_000)
            return page.evaluate("window.benchResult")
        finally:
            browser.close()


@pytest.mark.bench
def test_bench_log_view_stays_responsive_and_bounded(page_url):
    widget = _measure(page_url)
    naive = _measure(page_url + "?naive=1")
    rows = [("StepRunWidget log view (windowed)", widget), ("naive: one element per line", naive)]
    ratio = naive["domNodes"] / max(1, widget["domNodes"])
    publish("log_view", "\n".join([
        f"Log view: {widget['bytes'] / 2**20:.1f} MiB ({widget['lines']:,} lines) arriving as 256 KiB "
        "log messages 20 ms apart, headless Chromium",
        table(["way", "longest task ms", "long tasks", "DOM nodes", "seconds"],
              [(name, f"{r['longestTaskMs']:.0f}", r["longTasks"], f"{r['domNodes']:,}",
                f"{r['seconds']:.2f}") for name, r in rows]),
        f"naive / widget: {ratio:.0f}x DOM nodes",
        f"bar: longest task < 200 ms -> {'met' if widget['longestTaskMs'] < 200 else 'NOT met'} "
        f"({widget['longestTaskMs']:.0f} ms); log view DOM < 5,000 nodes -> "
        f"{'met' if widget['domNodes'] < 5000 else 'NOT met'} ({widget['domNodes']:,})",
    ]))
    assert widget["lastLineShown"], "the view follows the tail: the last line is on screen"
    assert widget["domNodes"] < 5000  # a count, not a time: bounded whatever the log size
