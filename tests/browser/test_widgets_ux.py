"""The widgets as a demanding user sees them, in JupyterLab and Chromium.

One notebook serves every point: a four-step pipeline (prep writes a 2,000-line coloured log and a
folder output, train is slow and writes a file, evaluate fails with a traceback, report never runs
because of it), shown as a PipelineRunWidget and as the StepRunWidgets of its steps. Screenshots,
light and dark, at 700 px and 330 px wide, land in tests/browser/artifacts/.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from tests.browser.lab import run_until, write_notebook
from tests.browser.test_pipeline_widget_browser import _cleanup, _wait
from tests.browser.test_step_widget_browser import choose_theme

SCRIPTS = {
    "prep": """
        import pathlib, sys
        out = pathlib.Path(sys.argv[1])
        for i in range(2000):
            colour = 31 + i % 6
            tail = " wide" * 60 if i % 250 == 0 else ""
            print(f"\\x1b[{colour}mprep line {i:04d}\\x1b[0m ok{tail}")
        (out / "part-0.csv").write_text("a,b\\n1,2\\n" * 500)
        (out / "part-1.csv").write_text("a,b\\n3,4\\n" * 500)
    """,
    "train": """
        import pathlib, sys, time
        for i in range(10):
            print(f"train epoch {i}", flush=True)
            time.sleep(1)
        (pathlib.Path(sys.argv[2]) / "model.bin").write_bytes(bytes(range(256)) * 12000)
    """,
    "evaluate": """
        import sys
        print("evaluate: reading the dataset", flush=True)
        def check(accuracy):
            raise ValueError(f"accuracy {accuracy} is below the threshold 0.9")
        check(0.42)
    """,
    "report": """
        print("report: never reached")
    """,
}

CELLS = [
    "from steprun_widgets import Workspace, Experiment, StepRunWidget, PipelineRunWidget\n"
    "from steprun_widgets.local import Pipeline, PythonScriptStep, PipelineData\n"
    "ws = Workspace()\n"
    "dataset, model, scores = PipelineData('dataset'), PipelineData('model'), PipelineData('scores')\n"
    "src = {src!r}\n"
    "def step(name, args, inputs=(), outputs=()):\n"
    "    return PythonScriptStep(f'{{name}}.py', name=name, arguments=args, inputs=inputs, outputs=outputs,\n"
    "                            source_directory=f'{{src}}/{{name}}', allow_reuse=False)\n"
    "steps = [step('prep', [dataset], outputs=[dataset]),\n"
    "         step('train', [dataset, model], inputs=[dataset], outputs=[model]),\n"
    "         step('evaluate', [dataset, scores], inputs=[dataset], outputs=[scores]),\n"
    "         step('report', [model, scores], inputs=[model, scores])]\n"
    "run = Experiment(ws, {experiment!r}).submit(Pipeline(ws, steps))",
    "StepRunWidget(run.find_step_run('evaluate')[0])",
    "StepRunWidget(run.find_step_run('train')[0])",
    "StepRunWidget(run.find_step_run('prep')[0])",
    "PipelineRunWidget(run)",
]

WIDTHS = (700, 330)


def widget_shots(page, locator, artifacts_dir: Path, name: str) -> list[Path]:
    """Screenshots of one widget, light and dark, with its output area 700 and 330 px wide."""
    paths = []
    for theme in ("light", "dark"):
        if theme == "dark":
            choose_theme(page, "JupyterLab Dark")
        try:
            for width in WIDTHS:
                locator.evaluate(
                    "(el, w) => { el.closest('.jp-OutputArea-output').style.maxWidth = w + 'px'; }", width)
                time.sleep(0.4)
                locator.scroll_into_view_if_needed()
                path = artifacts_dir / f"ux-{name}-{width}-{theme}.png"
                locator.screenshot(path=str(path))
                paths.append(path)
        finally:
            locator.evaluate("el => { el.closest('.jp-OutputArea-output').style.maxWidth = ''; }")
            if theme == "dark":
                choose_theme(page, "JupyterLab Light")
    return paths


@pytest.fixture
def ux_notebook(lab, experiment_name, tracking_uri):
    src = Path(lab.root) / f"src-{experiment_name}"
    for name, code in SCRIPTS.items():
        (src / name).mkdir(parents=True)
        (src / name / f"{name}.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    cells = [c.format(src=str(src), experiment=experiment_name) if i == 0 else c for i, c in enumerate(CELLS)]
    nb = write_notebook(Path(lab.root) / f"{experiment_name}.ipynb", cells)
    yield nb
    _cleanup(tracking_uri, experiment_name)


def test_widgets_as_a_user_sees_them(lab, page, ux_notebook, artifacts_dir):
    roots = page.locator(".srw-root")
    run_until(page, f"{lab.url}/lab/tree/{ux_notebook.name}", ".srw-root")
    _wait(lambda: roots.count() >= 3, 90, "the step widgets")

    train, prep = roots.nth(1), roots.nth(2)
    # 2: a running step offers no download of an output it has not written
    _wait(lambda: "Running" in train.get_by_test_id("srw-status").inner_text(), 120, "train Running")
    outputs = train.get_by_test_id("srw-outputs")
    _wait(lambda: "model" in outputs.inner_text(), 30, "train's declared output")
    assert train.get_by_test_id("srw-download-model").count() == 0
    assert "when the step ends" in outputs.inner_text()
    widget_shots(page, train, artifacts_dir, "running-step")

    # 3: the failed step opens on stderr (the traceback), marks that tab, the error line leads there
    evaluate = roots.nth(0)
    _wait(lambda: "Failed" in evaluate.get_by_test_id("srw-status").inner_text(), 120, "evaluate Failed")
    stderr_tab = evaluate.get_by_test_id("srw-tab-stderr")
    _wait(lambda: stderr_tab.get_attribute("aria-selected") == "true", 30, "the stderr tab selected")
    assert "srw-tab-marked" in (stderr_tab.get_attribute("class") or "")
    assert "explains the failure" in (stderr_tab.get_attribute("aria-label") or "")
    log = evaluate.get_by_test_id("srw-log")
    _wait(lambda: "ValueError: accuracy 0.42" in log.inner_text(), 30, "the traceback in the log")
    assert "Traceback" in log.inner_text()
    assert "accuracy 0.42" in evaluate.get_by_test_id("srw-error").inner_text()
    evaluate.get_by_test_id("srw-tab-stdout").click()
    assert "evaluate: reading the dataset" in log.inner_text()
    height = evaluate.evaluate("el => Math.round(el.getBoundingClientRect().height)")
    evaluate.get_by_test_id("srw-error-link").click()
    assert stderr_tab.get_attribute("aria-selected") == "true"
    # the widget keeps its height across tabs and filters (the page below does not jump)
    time.sleep(0.3)
    assert evaluate.evaluate("el => Math.round(el.getBoundingClientRect().height)") >= height - 1
    # 7: a failed step without outputs says so plainly
    assert "No outputs" in evaluate.get_by_test_id("srw-outputs").inner_text()
    assert "No outputs yet" not in evaluate.get_by_test_id("srw-outputs").inner_text()
    widget_shots(page, evaluate, artifacts_dir, "failed-step")

    # 1: downloads say what they saved, a folder as a zip, and where a kernel save went
    _wait(lambda: "Finished" in train.get_by_test_id("srw-status").inner_text(), 120, "train Finished")
    button = train.get_by_test_id("srw-download-model")
    button.wait_for(timeout=30_000)
    row = train.locator("tr.srw-out-row").first
    widths = row.evaluate("tr => [...tr.cells].map(c => c.getBoundingClientRect().width)")
    with page.expect_download(timeout=60_000) as info:
        button.click()
    assert info.value.suggested_filename == "model.bin"
    note = train.locator("tr.srw-out-note").first
    _wait(lambda: "Saved model.bin (2.9 MiB)" in note.inner_text(), 30, "the saved note")
    assert row.evaluate("tr => [...tr.cells].map(c => c.getBoundingClientRect().width)") == widths
    train.get_by_test_id("srw-save-local-model").click()
    message = train.get_by_test_id("srw-save-local-message-model")
    _wait(lambda: "model/model.bin" in message.inner_text(), 60, "the kernel save's path")
    assert "Saved in the kernel's folder: model/model.bin (2.9 MiB)" in message.inner_text()
    assert (Path(lab.root) / "model" / "model.bin").stat().st_size == 256 * 12000
    train.get_by_test_id("srw-save-local-model").click()  # again: refused, nothing overwritten
    _wait(lambda: "is already in the kernel" in message.inner_text(), 60, "the refusal")
    assert message.evaluate("el => el.scrollWidth <= el.closest('.srw-root').clientWidth")
    widget_shots(page, train, artifacts_dir, "downloaded-step")

    _wait(lambda: "Finished" in prep.get_by_test_id("srw-status").inner_text(), 60, "prep Finished")
    zip_button = prep.get_by_test_id("srw-download-dataset")
    zip_button.wait_for(timeout=30_000)
    assert zip_button.inner_text().strip() == "Download .zip"
    with page.expect_download(timeout=60_000) as info:
        zip_button.click()
    assert info.value.suggested_filename == "dataset.zip"
    zip_note = prep.locator("tr.srw-out-note").first
    _wait(lambda: "(the folder as a zip)" in zip_note.inner_text(), 30, "the zip note")
    assert "Saved dataset.zip (" in zip_note.inner_text()

    log_checks(page, prep, evaluate, artifacts_dir)
    pipeline_checks(page, artifacts_dir)
    assert not page.dialogs


def log_checks(page, prep, evaluate, artifacts_dir: Path) -> None:
    """6: line numbers, highlighted matches, wrap, a fitted height, the whole log copied and saved."""
    log = prep.get_by_test_id("srw-log")
    _wait(lambda: "prep line 1999" in log.inner_text(), 60, "prep's last line")
    last = log.locator(".srw-line").last
    assert last.evaluate("el => getComputedStyle(el, '::before').content") == '"2000"'
    assert "2000" not in last.inner_text(), "the number is not part of the line's text"
    rows = log.locator(".srw-line")
    row_height = rows.first.evaluate("el => el.getBoundingClientRect().height")
    prep.get_by_test_id("srw-filter").fill("line 0250")
    _wait(lambda: log.locator("mark.srw-match").count() == 1, 30, "one highlighted match")
    assert log.locator("mark.srw-match").inner_text() == "line 0250"
    prep.get_by_test_id("srw-wrap").click()
    _wait(lambda: rows.first.evaluate("el => el.getBoundingClientRect().height") > 2 * row_height, 10,
          "the long line wrapped")
    assert log.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), "no sideways scrolling when wrapped"
    widget_shots(page, prep, artifacts_dir, "log-filter-wrap")
    prep.get_by_test_id("srw-filter").fill("")
    prep.get_by_test_id("srw-wrap").click()

    stderr_height = evaluate.get_by_test_id("srw-log").evaluate("el => el.getBoundingClientRect().height")
    assert stderr_height < 160, f"a 6-line log gets a fitted panel, not {stderr_height} px"
    assert log.evaluate("el => el.getBoundingClientRect().height") > 300, "a long log keeps the full panel"

    with page.expect_download(timeout=60_000) as info:
        prep.get_by_test_id("srw-log-save").click()
    assert info.value.suggested_filename == "prep-stdout.txt"
    saved = Path(info.value.path()).read_text(encoding="utf-8")
    assert saved.count("\n") == 2000 and "\x1b[31mprep line 0000" in saved
    _wait(lambda: "Saved prep-stdout.txt (" in prep.get_by_test_id("srw-log-note").inner_text(), 30,
          "the saved log's note")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    prep.get_by_test_id("srw-log-copy").click()
    note = prep.get_by_test_id("srw-log-note")
    _wait(lambda: "Copied the whole stdout log" in note.inner_text(), 30, f"the copy ({note.inner_text()})")
    assert page.evaluate("navigator.clipboard.readText()") == saved


def _visible_count(locator) -> int:
    return locator.evaluate_all("els => els.filter(e => e.offsetParent !== null).length")


def pipeline_checks(page, artifacts_dir: Path) -> None:
    """Points of the PipelineRunWidget, on the same notebook's last cell."""
    widget = page.locator(".prw-root").first
    widget.scroll_into_view_if_needed()
    widget.get_by_test_id("prw-graph").wait_for(timeout=60_000)
    _wait(lambda: "Failed" in widget.get_by_test_id("prw-status").inner_text(), 120, "the pipeline Failed")

    # 4: the step pane says badge, name, clock, run id and error once
    widget.locator("[data-testid^='prw-node-']", has_text="evaluate").first.click()
    detail = widget.get_by_test_id("prw-detail")
    detail.locator(".srw-root").wait_for(timeout=60_000)
    _wait(lambda: "Failed" in detail.get_by_test_id("srw-status").inner_text(), 60, "the child view")
    assert detail.get_by_test_id("prw-detail-name").inner_text().strip() == "evaluate"
    assert _visible_count(detail.locator(".srw-badge, .prw-detail-badge")) == 1
    assert _visible_count(detail.locator(".srw-elapsed")) == 1, "one clock"
    assert _visible_count(detail.locator(".srw-run-id")) == 1
    assert _visible_count(detail.locator(".srw-error")) == 1
    assert _visible_count(detail.locator(".srw-name")) == 1
    widget_shots(page, widget, artifacts_dir, "pipeline")
    narrow_checks(page, widget)


# The parameter names (their cells) that a line break cuts inside a part, not at a <wbr> after a
# separator: a character that starts a new line must start a text node.
MID_WORD_BREAKS = """el => {
  const names = [...el.querySelectorAll("[data-testid='srw-params'] tbody th")];
  if (!names.length) return ["no parameter names shown"];
  return names.filter((th) => {
    let top = null;
    for (const node of th.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE) continue;
      for (let i = 0; i < node.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const y = range.getBoundingClientRect().top;
        if (i > 0 && top !== null && y > top + 1) return true;
        top = y;
      }
    }
    return false;
  }).map((th) => th.textContent);
}"""


def narrow_checks(page, pipeline) -> None:
    """5: at 330 px nothing sticks out of a widget: the graph and the tables scroll inside it."""
    step = page.locator(".srw-root").nth(2)  # prep: a folder output
    for root in (pipeline, step):
        root.evaluate("el => { el.closest('.jp-OutputArea-output').style.maxWidth = '330px'; }")
    try:
        time.sleep(0.5)
        for root in (pipeline, step):
            assert root.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), "the widget overflows"
        graph = pipeline.locator(".prw-graph-scroll")
        assert graph.evaluate("el => getComputedStyle(el).overflowX") == "auto"
        if graph.evaluate("el => el.scrollWidth > el.clientWidth"):
            graph.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
            report = pipeline.locator("[data-testid^='prw-node-']", has_text="report").first
            box, area = report.bounding_box(), graph.bounding_box()
            assert box["x"] + box["width"] <= area["x"] + area["width"] + 1, "the last node scrolls into view"
        # the timeline holds as many axis labels as fit (no two overlap), and no edge label is cut
        # at the picture's edge ("ataset")
        time.sleep(1.2)  # the timeline repaints for its new width
        overlaps = pipeline.evaluate("""el => {
            const boxes = [...el.querySelectorAll('.prw-tl-tick')].map(t => t.getBoundingClientRect());
            return boxes.slice(1).filter((b, i) => b.left < boxes[i].right - 1).length; }""")
        assert overlaps == 0, "timeline axis labels overlap"
        cut = pipeline.evaluate("""el => {
            const svg = el.querySelector('svg.prw-graph') || el.querySelector('.prw-graph-wrap svg');
            if (!svg) return [];
            const area = svg.getBoundingClientRect();
            return [...el.querySelectorAll('.prw-edge-label')].filter(l => {
              const b = l.getBoundingClientRect();
              return b.left < area.left - 1 || b.right > area.right + 1; }).map(l => l.textContent); }""")
        assert cut == [], f"edge labels cut at the picture's edge: {cut}"
        name = step.locator(".srw-out-name").first
        assert name.evaluate("el => getComputedStyle(el).whiteSpace") == "nowrap"
        assert name.evaluate("el => el.querySelector('.srw-out-name-text').getClientRects().length") == 1, \
            "the output name stays on one line"
        assert step.locator(".srw-table-scroll").evaluate("el => getComputedStyle(el).overflowX") == "auto"
        for root in (pipeline, step):
            cut = root.evaluate(MID_WORD_BREAKS)
            assert cut == [], f"parameter names broken inside a part: {cut}"
    finally:
        for root in (pipeline, step):
            root.evaluate("el => { el.closest('.jp-OutputArea-output').style.maxWidth = ''; }")
    assert not page.dialogs
