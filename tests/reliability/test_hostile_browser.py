"""Hostile content in the browser: HTML and script payloads in log lines, error lines, output (file)
names, run names and graph node names, rendered by StepRunWidget and PipelineRunWidget in JupyterLab
in Chromium, and by ``to_html()`` snapshots opened in Chromium.

No payload may execute: no dialog, no ``window.__xss``, no injected element (img, script, iframe,
object, embed, javascript: links, inline handlers) and no request to a URL of a payload.
Hostile step names come from runs made through REST (another tool), which the widgets must open
too; a step name of this package's own pipelines may hold such text as well (it is display text).
"""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import pytest

from steprun_widgets import Experiment, PipelineRun, PipelineRunWidget, StepRunWidget
from steprun_widgets.core import layout
from steprun_widgets.local import PipelineData
from tests.browser.lab import run_until, write_notebook
from tests.reliability.helpers import script_step, stop_leftovers, submit
from tests.runlayout import RunLayout

PAYLOADS = [
    '<img src=x onerror="window.__xss=\'img\';alert(\'img\')">',
    '<script>window.__xss="script";alert("script")</script>',
    '<iframe src="http://127.0.0.1:9/iframe" onload="window.__xss=\'iframe\'"></iframe>',
    '<svg onload="window.__xss=\'svg\';alert(\'svg\')"><circle r=5></circle></svg>',
    '"><img src="http://127.0.0.1:9/attr.png">',
    '<a href="javascript:window.__xss=\'a\';alert(\'a\')">click me</a>',
    '<style>*{background:url(http://127.0.0.1:9/css.png)}</style>'
    '<link rel=stylesheet href=http://127.0.0.1:9/l.css>',
    "javascript:alert('js-url')",
    '{{constructor.constructor("window.__xss=\'tpl\'")()}} ${window.__xss="tpl2"}',
    '<object data="http://127.0.0.1:9/obj"></object><embed src="http://127.0.0.1:9/emb">',
]
# Names a file can have (no '/'): still markup.
FILE_NAMES = ["<img src=x onerror=alert(1)>.txt", "<svg onload=alert(2)>.csv", "\"'><b>bold<b>.txt",
              "<iframe src=http:127.0.0.1:9>.bin", "<script>alert(3)<!--.txt"]
OSC8_JS = "\x1b]8;;javascript:alert('osc8')\x1b\\osc8 link text\x1b]8;;\x1b\\"

HOSTOUT = f"""
import sys, time
from pathlib import Path
out = Path(sys.argv[1])
for name in {FILE_NAMES!r}:
    (out / name).write_text("hostile name")
for p in {PAYLOADS!r}:
    print(p, flush=True)
print({OSC8_JS!r}, flush=True)
print("\\x1b[3", end="", flush=True)
time.sleep(1.5)
print("1mRED split escape\\x1b[0m", flush=True)
print({PAYLOADS[0]!r}, file=sys.stderr, flush=True)
"""
HOSTERR = f"""
import sys
for p in {PAYLOADS!r}:
    print(p, file=sys.stderr, flush=True)
print({PAYLOADS[0]!r}, file=sys.stderr, flush=True)
sys.exit(1)
"""
PAYLOAD_URL = re.compile(r"127\.0\.0\.1:9(/|$)|/x$|javascript:")
INJECTED = "img, script, iframe, object, embed, link, a[href^='javascript'], [onerror], [onload]"
XSS_FLAG = "() => window.__xss === undefined ? null : String(window.__xss)"


@pytest.fixture
def hostile_runs(workspace, experiment_name, tmp_path):
    """A finished runner pipeline with hostile logs, error and file names, and a REST pipeline with
    hostile run, node, output and error texts. Returns (experiment, runner run, REST run)."""
    experiment = Experiment(workspace, experiment_name)
    files = PipelineData("files")
    run = submit(experiment, [script_step(tmp_path, "hostout", HOSTOUT, outputs=(files,)),
                              script_step(tmp_path, "hosterr", HOSTERR)])
    runs = RunLayout(workspace, experiment_name)
    names = [PAYLOADS[0], PAYLOADS[3], PAYLOADS[1]]
    pipeline = runs.pipeline(name=PAYLOADS[2], steps=names, edges=[(names[0], names[1])],
                             status=layout.FAILED)
    for k, name in enumerate(names):
        step = runs.step(pipeline, name, status=layout.FINISHED)
        runs.log(step, "stdout", "\n".join(PAYLOADS) + "\n" + OSC8_JS + "\n")
        runs.output(step, PAYLOADS[0].split(" ")[0] + f"{k}>", {FILE_NAMES[0]: b"x"})
        if k == 1:
            runs.fail(step, PAYLOADS[k])
    runs.rest.set_tag(pipeline.run_id, layout.TAG_ERROR, PAYLOADS[4])
    try:
        assert run.wait_for_completion(show_output=False, timeout_seconds=90,
                                       raise_on_error=False) == layout.FAILED
        yield experiment, run, PipelineRun(experiment, pipeline.run_id)
    finally:
        stop_leftovers(experiment)


def _assert_inert(page, requests: list[str], where: str) -> None:
    assert not page.dialogs, f"{where}: dialogs {page.dialogs}"
    assert page.evaluate(XSS_FLAG) is None, f"{where}: window.__xss = {page.evaluate(XSS_FLAG)}"
    bad = [u for u in requests if PAYLOAD_URL.search(u)]
    assert not bad, f"{where}: requests to payload URLs {bad}"


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
    page = context.new_page()
    page.dialogs, requests = [], []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()) if d.type != "beforeunload"
            else d.accept())
    page.on("request", lambda r: requests.append(r.url))
    page.console = []
    page.on("console", lambda m: page.console.append(f"{m.type}: {m.text}"))
    return context, page, requests


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - the page is still rendering
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def test_hostile_content_renders_inert_in_jupyterlab(lab, in_browser, hostile_runs, artifacts_dir):
    experiment, run, rest_run = hostile_runs
    nb = write_notebook(Path(lab.root) / f"{experiment.name}.ipynb", [
        "from steprun_widgets import Workspace, Experiment, PipelineRun, StepRunWidget, PipelineRunWidget\n"
        f"exp = Experiment(Workspace(), {experiment.name!r})\n"
        f"run, rest_run = PipelineRun(exp, {run.id!r}), PipelineRun(exp, {rest_run.id!r})",
        "StepRunWidget(run.find_step_run('hostout')[0])",
        "StepRunWidget(run.find_step_run('hosterr')[0])",
        "StepRunWidget(rest_run.get_steps()[1])",
        "PipelineRunWidget(rest_run)",
        "PipelineRunWidget(run)",
    ])

    def body(browser):
        context, page, requests = _new_page(browser)
        try:
            run_until(page, f"{lab.url}/lab/tree/{nb.name}", ".prw-root")
            cells = page.locator(".jp-Notebook .jp-CodeCell")
            try:
                _wait(lambda: cells.nth(5).locator(".prw-root").count() == 1, 60, "the widgets to render")
            except AssertionError:
                # Seen once on a loaded machine: the cells ran but Lab kept "Loading widget...".
                # A reload renders the kernel's live widgets again, as a user would do.
                print("widgets not rendered after 60 s; reloading the page once")
                page.reload()
                _wait(lambda: cells.nth(5).locator(".prw-root").count() == 1, 90,
                      "the widgets to render after a reload")
            steps = [cells.nth(i).locator(".srw-root").first for i in (1, 2, 3)]
            pipes = [cells.nth(i).locator(".prw-root").first for i in (4, 5)]
            for i, view in enumerate(steps):
                _wait(lambda v=view: v.get_by_test_id("srw-status").inner_text().strip() in (
                    "Finished", "Failed") or "Failed" in v.get_by_test_id("srw-status").inner_text(),
                    90, f"step view {i} to show a final status")
            for view in pipes:
                _wait(lambda v=view: "Failed" in v.get_by_test_id("prw-status").inner_text(), 90,
                      "the pipeline views to show Failed")
            hostout, hosterr, rest_step = steps
            _wait(lambda: "RED split escape" in hostout.get_by_test_id("srw-log").inner_text(), 30,
                  "hostout's last stdout line")
            log = hostout.get_by_test_id("srw-log").inner_text()
            for payload in PAYLOADS:
                assert payload in log, payload
            assert "osc8 link text" in log and "\x1b" not in log
            red = hostout.locator(".srw-line", has_text="RED split escape").first.inner_text()
            assert red.strip() == "RED split escape", f"an escape cut in half renders as {red!r}"
            outputs = hostout.get_by_test_id("srw-outputs").inner_text()
            assert "files" in outputs
            assert PAYLOADS[0] in hosterr.get_by_test_id("srw-error").inner_text()
            assert PAYLOADS[3] in rest_step.get_by_test_id("srw-name").inner_text()
            assert PAYLOADS[1] in rest_step.get_by_test_id("srw-error").inner_text()
            assert "<img" in rest_step.get_by_test_id("srw-outputs").inner_text()

            rest_pipe = pipes[0]
            assert PAYLOADS[2] in rest_pipe.get_by_test_id("prw-name").inner_text()
            assert PAYLOADS[4] in rest_pipe.get_by_test_id("prw-error").inner_text()
            nodes = rest_pipe.locator("[data-testid^='prw-node-']")
            _wait(lambda: nodes.count() == 3, 30, "a node per hostile step")
            texts = " ".join(nodes.nth(i).text_content() for i in range(3))
            assert "<img" in texts and "<svg" in texts and "<script" in texts, texts
            for i in range(3):  # open each hostile step's own view inside the pipeline widget
                nodes.nth(i).click()
                detail = rest_pipe.get_by_test_id("prw-detail")
                # A failed step's view opens on the log that explains the failure: ask for stdout.
                tab = detail.get_by_test_id("srw-tab-stdout")
                _wait(lambda t=tab: t.count() == 1, 60, f"hostile node {i}'s view in the pane")
                tab.click()
                _wait(lambda d=detail: "javascript:alert" in d.get_by_test_id("srw-log").inner_text(), 60,
                      f"hostile node {i}'s log in the pane")
            pipes[1].locator("[data-testid^='prw-node-']").first.click()
            _wait(lambda: "RED split escape" in pipes[1].get_by_test_id("prw-detail").inner_text(), 60,
                  "hostout's log in the runner pipeline's pane")

            # the hostile file names travel inside the zip of a download; a hostile output name
            # becomes the name of the saved file
            with page.expect_download(timeout=60_000) as info:
                hostout.get_by_test_id("srw-download-files").click()
            saved = Path(info.value.path())
            with zipfile.ZipFile(saved) as archive:
                assert sorted(archive.namelist()) == sorted(f"files/{n}" for n in FILE_NAMES)
            with page.expect_download(timeout=60_000) as info:
                rest_step.locator(".srw-download").first.click()
            assert Path(info.value.path()).read_bytes() == b"x"
            assert "/" not in info.value.suggested_filename
            time.sleep(1.0)  # give any payload the time to fire

            _assert_inert(page, requests, "JupyterLab")
            for root in (*steps, *pipes):
                found = root.locator(INJECTED)
                assert found.count() == 0, found.first.evaluate("e => e.outerHTML")
            assert page.locator("img[src='x'], [onerror], [onload], a[href^='javascript']").count() == 0
            hostout.screenshot(path=str(artifacts_dir / "hostile_step_widget.png"))
            rest_pipe.screenshot(path=str(artifacts_dir / "hostile_pipeline_widget.png"))
        except BaseException:
            page.screenshot(path=str(artifacts_dir / "failed-hostile-lab.png"), full_page=True)
            print("browser console:\n  " + "\n  ".join(page.console[-40:]))
            raise
        finally:
            context.close()

    in_browser.run(body, timeout=600)  # run_until may open the notebook up to 3 times


def test_hostile_content_in_to_html_snapshots_is_inert(in_browser, hostile_runs, tmp_path):
    experiment, run, rest_run = hostile_runs
    fragments, standalone = [], []
    for step in [*run.get_steps(), *rest_run.get_steps()]:
        widget = StepRunWidget(step, poll=False)
        widget.refresh()
        assert widget.watch.final
        fragments.append(widget.to_html())
        standalone.append(Path(widget.save_html(tmp_path / f"step-{len(standalone)}.html")))
    for pipeline in (run, rest_run):
        widget = PipelineRunWidget(pipeline, poll=False)
        fragments.append(widget.to_html())
        standalone.append(Path(widget.save_html(tmp_path / f"pipeline-{len(standalone)}.html")))
    page_file = tmp_path / "snapshots.html"
    page_file.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                         + "".join(fragments) + "</body></html>", encoding="utf-8")
    for fragment in fragments:
        assert "<img" not in fragment and "<script" not in fragment and "<iframe" not in fragment

    def body(browser):
        context, page, requests = _new_page(browser)
        try:
            for target in (page_file, *standalone):
                page.goto(target.as_uri())
                page.wait_for_load_state("load")
                time.sleep(0.3)
                _assert_inert(page, requests, target.name)
                # the snapshot draws its graph, timeline and charts as SVG of its own (class srw-svg)
                found = page.locator(f"{INJECTED}, svg:not(.srw-svg), style:not(.srw-snap style)")
                assert found.count() == 0, found.first.evaluate("e => e.outerHTML")
            page.goto(page_file.as_uri())
            text = page.locator("body").inner_text()
            for payload in (PAYLOADS[0], PAYLOADS[2], PAYLOADS[4]):
                assert payload in text, payload
            assert "\x1b" not in text
        finally:
            context.close()

    in_browser.run(body)
