"""The metrics frontend in headless Chromium without a kernel: the built bundles on a page with
stand-in models (js/bench/metrics_page.html) and JupyterLab-like theme variables.

What happy-dom cannot show: that uPlot really paints the canvas (pixels in the theme's colours),
that the mouse hover and the keyboard cursor read out a point, that a chart grows as messages
arrive and repaints when the theme flips, and that the pipeline's table sorts from the keyboard.
"""

from __future__ import annotations

import time

import pytest

from tests.static_pages import serve_repository

XSS = '<img src=x onerror="window.__xss=1">'
T0 = 1_700_000_000_000
LIGHT_LINE = (0x19, 0x76, 0xD2)  # --jp-brand-color1 of the page's light theme
DARK_LINE = (0x42, 0xA5, 0xF5)
WARN_LIGHT = (0xF5, 0x7C, 0x00)

# Counts the canvas pixels near an RGB colour (antialiasing blends the line's edges).
COUNT_COLOUR = """([sel, rgb]) => {
  const c = document.querySelector(sel);
  if (!c) return -1;
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) < 30 && Math.abs(d[i + 1] - rgb[1]) < 30 &&
        Math.abs(d[i + 2] - rgb[2]) < 30) n++;
  }
  return n;
}"""


@pytest.fixture(scope="module")
def page_url():
    with serve_repository() as base:
        yield f"{base}/js/bench/metrics_page.html"


def points(n: int, start: int = 0, f=lambda i: 2 / (i + 1) ** 0.5) -> list[list[float]]:
    return [[i, f(i), T0 + i * 1000] for i in range(start, start + n)]


def open_page(page, url: str) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(url)
    page.wait_for_function("window.pageReady === true", timeout=30_000)


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def canvas(name: str) -> str:
    return f'[data-testid="srw-chart-{name}"] canvas'


def test_chart_paints_grows_hovers_and_follows_the_keyboard(page, page_url, artifacts_dir):
    open_page(page, page_url)
    page.evaluate("""(s) => window.mountStep(s)""", {
        "metrics": {
            "loss": {"points": points(200), "count": 200, "seq": 1, "description": "training loss"},
            "odd": {"points": [[0, 1, T0], [1, "NaN", T0], [2, 2, T0], [3, "Infinity", T0], [4, 1.5, T0],
                               [5, "-Infinity", T0], [6, 3, T0]], "count": 7, "seq": 1, "description": ""},
            "final_acc": {"points": [[0, 0.93, T0]], "count": 1, "seq": 1, "description": ""},
            XSS: {"points": points(3), "count": 3, "seq": 1, "description": XSS},
        },
        "params": {"lr": "0.01", "steprun.script": "train.py", XSS: XSS},
    })
    chart = page.get_by_test_id("srw-chart-loss")
    chart.wait_for()
    lit = wait_for(lambda: page.evaluate(COUNT_COLOUR, [canvas("loss"), LIGHT_LINE]) > 50, what="the line")
    assert lit
    # +/-Infinity are marked with dots in the warning colour
    assert page.evaluate(COUNT_COLOUR, [canvas("odd"), WARN_LIGHT]) > 10
    assert page.evaluate("window.__xss") is None
    plot = chart.get_by_test_id("srw-chart-plot")
    assert plot.get_attribute("aria-label").startswith("loss: 200 points, steps 0 to 199, last ")
    readout = chart.get_by_test_id("srw-chart-readout")
    assert readout.inner_text().startswith("last: step 199 · ")

    # The chart grows as metric messages arrive.
    before = page.evaluate(f"document.querySelector('{canvas('loss')}').toDataURL()")
    for seq in range(2, 12):
        page.evaluate("""([p, seq]) => window.views[0].model.emit(
                             {type: "metric", name: "loss", points: p, seq})""",
                      [points(20, 200 + (seq - 2) * 20, lambda i: 0.5 + (i % 7) / 10), seq])
        time.sleep(0.05)
    wait_for(lambda: plot.get_attribute("aria-label").startswith("loss: 400 points, steps 0 to 399"),
             what="400 points")
    assert page.evaluate(f"document.querySelector('{canvas('loss')}').toDataURL()") != before

    # Hover shows value, step and time.
    box = plot.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.4)
    hover = wait_for(lambda: (t := readout.inner_text()) and not t.startswith("last:") and t, what="hover")
    assert hover.startswith("step "), hover
    step, value, when = hover.split(" · ")
    assert 100 < int(step.split()[1]) < 300
    assert float(value) > 0 and "2023" in when, hover
    page.mouse.move(0, 0)
    wait_for(lambda: readout.inner_text().startswith("last:"), what="readout back to last")

    # Keyboard: Tab reaches the chart; arrows move the cursor and it is announced.
    page.locator("body").click(position={"x": 2, "y": 2})
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => document.activeElement?.dataset.testid === "srw-chart-plot"
            && document.activeElement.closest(".srw-chart").dataset.testid""")
        if focused == "srw-chart-loss":
            break
    else:
        raise AssertionError("Tab never reached the loss chart")
    page.keyboard.press("Home")
    assert readout.inner_text().startswith("step 0 · 2 · ")
    page.keyboard.press("ArrowRight")
    assert readout.inner_text().startswith("step 1 · 1.41421 · ")
    assert chart.locator("[aria-live]").inner_text().startswith("loss, step 1 · 1.41421")
    cursor_left = page.evaluate("""() => getComputedStyle(document.querySelector(
        '[data-testid="srw-chart-loss"] .u-cursor-x')).transform""")
    assert cursor_left not in ("", "none")
    # New points do not take the keyboard's point away.
    page.evaluate("""(p) => window.views[0].model.emit({type: "metric", name: "loss", points: p, seq: 12})""",
                  points(5, 400))
    wait_for(lambda: plot.get_attribute("aria-label").startswith("loss: 405 points"), what="405 points")
    assert readout.inner_text().startswith("step 1 · 1.41421 · ")

    # Smoothing draws the smoothed line and reads it out; log y redraws and keeps the readout.
    page.get_by_test_id("srw-smoothing").fill("0.9")
    plot.focus()
    page.keyboard.press("End")
    wait_for(lambda: "(smoothed " in readout.inner_text(), what="smoothed readout")
    chart.locator("input[type=checkbox]").check()
    wait_for(lambda: page.evaluate(COUNT_COLOUR, [canvas("loss"), LIGHT_LINE]) > 50, what="log chart")
    assert plot.get_attribute("aria-label").startswith("loss: 405 points")
    chart.screenshot(path=str(artifacts_dir / "metrics_chart_light.png"))

    # Once-logged metrics and params are tables of text.
    last_row = page.get_by_test_id("srw-scalars").inner_text().split("\n")[-1]
    assert last_row.split("\t") == ["final_acc", "0.93"]
    assert XSS in page.get_by_test_id("srw-params").inner_text()
    assert page.evaluate("window.__xss") is None
    assert not page.errors, page.errors


def test_charts_repaint_when_the_theme_flips(page, page_url, artifacts_dir):
    open_page(page, page_url)
    page.evaluate("""(s) => window.mountStep(s)""", {
        "metrics": {name: {"points": points(300, 0, f), "count": 300, "seq": 1, "description": ""}
                    for name, f in [("loss", lambda i: 2 / (i + 1) ** 0.5),
                                    ("acc", lambda i: 1 - 1 / (i + 2))]},
        "params": {"epochs": "3"},
    })
    page.get_by_test_id("srw-chart-loss").wait_for()
    wait_for(lambda: page.evaluate(COUNT_COLOUR, [canvas("loss"), LIGHT_LINE]) > 50, what="light line")
    page.evaluate("document.body.dataset.jpThemeLight = 'false'")
    wait_for(lambda: page.evaluate(COUNT_COLOUR, [canvas("loss"), DARK_LINE]) > 50, what="dark line")
    assert page.evaluate(COUNT_COLOUR, [canvas("loss"), LIGHT_LINE]) < 5
    root = page.locator(".srw-root").first
    assert root.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(33, 33, 33)"
    root.screenshot(path=str(artifacts_dir / "metrics_area_dark.png"))
    assert not page.errors, page.errors


def test_a_100k_point_series_draws_downsampled(page, page_url):
    open_page(page, page_url)
    page.evaluate("""() => {
        const p = [];
        for (let i = 0; i < 100000; i++) p.push([i, i === 54321 ? 4 : Math.sin(i / 5000), 1.7e12 + i]);
        window.mountStep({ metrics: { big: { points: p, count: 100000, seq: 1, description: "" } } });
    }""")
    plot = page.get_by_test_id("srw-chart-big").get_by_test_id("srw-chart-plot")
    plot.wait_for()
    assert plot.get_attribute("aria-label").startswith("big: 100000 points, steps 0 to 99999, last ")
    assert plot.get_attribute("aria-label").endswith(", min -1, max 4")
    # The one-point spike survives the min/max downsampling: line pixels near the plot's top
    # (the rest of the series stays within -1..1, the lower 40% of the range).
    wait_for(lambda: page.evaluate(COUNT_COLOUR, [canvas("big"), LIGHT_LINE]) > 50, what="the line")
    top_row = page.evaluate("""([sel, rgb]) => {
        const c = document.querySelector(sel);
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
            const i = (y * c.width + x) * 4;
            if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) < 30 && Math.abs(d[i + 1] - rgb[1]) < 30 &&
                Math.abs(d[i + 2] - rgb[2]) < 30) return y / c.height;
        }
        return 1;
    }""", [canvas("big"), LIGHT_LINE])
    assert top_row < 0.2, top_row
    assert not page.errors, page.errors


def test_pipeline_table_sorts_from_the_keyboard(page, page_url, artifacts_dir):
    open_page(page, page_url)
    page.evaluate("""(s) => window.mountPipeline(s)""", {
        "graph": {"nodes": [{"id": "a", "name": "prep"}, {"id": "b", "name": "train"},
                            {"id": "c", "name": "eval"}],
                  "edges": [["a", "b"], ["b", "c"]]},
        "metrics_table": {"names": ["loss", XSS], "rows": [
            {"node_id": "b", "run_id": "rb", "values": {"loss": 0.25, XSS: 1}},
            {"node_id": "c", "run_id": "rc", "values": {"loss": "Infinity"}},
            {"node_id": "a", "run_id": "ra", "values": {"loss": 1.5, XSS: "NaN"}}]},
    })
    table = page.get_by_test_id("prw-metrics")
    table.wait_for()
    names = lambda: [r.split("\t")[0] for r in table.locator("tbody tr").all_inner_texts()]  # noqa: E731
    assert names() == ["train", "eval", "prep"]
    page.get_by_test_id("prw-metrics-sort-loss").focus()
    page.keyboard.press("Enter")
    assert names() == ["train", "prep", "eval"]
    sort_of = "b => b.parentElement.getAttribute('aria-sort')"
    assert page.get_by_test_id("prw-metrics-sort-loss").evaluate(sort_of) == "ascending"
    page.keyboard.press(" ")
    assert names() == ["eval", "prep", "train"]
    assert XSS in table.inner_text()
    assert page.evaluate("window.__xss") is None
    table.screenshot(path=str(artifacts_dir / "pipeline_metrics_table.png"))
    assert not page.errors, page.errors
