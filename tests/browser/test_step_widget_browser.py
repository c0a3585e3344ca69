"""StepRunWidget end to end: a real pipeline, JupyterLab, the anywidget frontend in Chromium."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from tests.browser.lab import run_until, write_notebook

PAYLOAD = '<img src=x onerror="window.__xss=1;fetch(\'http://127.0.0.1:9/xss\')">'
RESULT = bytes(range(256)) * 100

SLOW_SCRIPT = textwrap.dedent(f"""
    import pathlib, sys, time
    out = pathlib.Path(sys.argv[1])
    time.sleep(4)
    for i in range(12):
        print(f"line {{i}} of the slow step", flush=True)
        time.sleep(0.5)
    print({PAYLOAD!r}, flush=True)
    print("\\x1b[31mred text\\x1b[0m after", flush=True)
    (out / "result.bin").write_bytes(bytes(range(256)) * 100)
""")


def choose_theme(page, theme: str) -> None:
    """Switch JupyterLab's theme through its Settings menu, as a user would."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=theme).first.click()
    light = "true" if "Light" in theme else "false"
    page.wait_for_selector(f"body[data-jp-theme-light='{light}']", state="attached", timeout=30_000)
    time.sleep(0.5)  # let the theme's CSS variables apply before a screenshot


def _status(page) -> str:
    return page.get_by_test_id("srw-status").first.inner_text().strip()


def _wait_status(page, wanted: str, timeout: float = 90) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = _status(page)
        except Exception:
            status = ""
        if status and (not seen or seen[-1] != status):
            seen.append(status)
        if wanted in status:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"status never became {wanted!r}; saw {seen}")


def test_step_widget_live_in_jupyterlab(lab, page, experiment_name, artifacts_dir, tmp_path):
    src = Path(lab.root) / f"src-{experiment_name}"
    src.mkdir()
    (src / "slow.py").write_text(SLOW_SCRIPT, encoding="utf-8")
    nb = write_notebook(Path(lab.root) / f"{experiment_name}.ipynb", [
        "from steprun_widgets import Workspace, Experiment, StepRunWidget\n"
        "from steprun_widgets.local import Pipeline, PythonScriptStep, PipelineData\n"
        "ws = Workspace()\n"
        "result = PipelineData('result')\n"
        f"step = PythonScriptStep('slow.py', name='slow', arguments=[result], outputs=[result],\n"
        f"                        source_directory={str(src)!r}, allow_reuse=False)\n"
        f"run = Experiment(ws, {experiment_name!r}).submit(Pipeline(ws, [step]))\n"
        "step_run = run.find_step_run('slow')[0]",
        "StepRunWidget(step_run)",
    ])
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(r.url))
    run_until(page, f"{lab.url}/lab/tree/{nb.name}", "[data-testid='srw-status']")
    seen = _wait_status(page, "Running")
    widget = page.locator(".srw-root").first
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and widget.locator(".srw-line").count() == 0:
        time.sleep(0.2)
    assert "Running" in _status(page), "log lines should appear while the step runs"
    assert widget.locator(".srw-line").count() > 0
    assert "line 0 of the slow step" in widget.get_by_test_id("srw-log").inner_text()
    seen += _wait_status(page, "Finished")
    assert any("Running" in s for s in seen) and "Finished" in seen[-1], seen

    log_text = widget.get_by_test_id("srw-log").inner_text()
    assert PAYLOAD in log_text, "the HTML payload shows as text"
    assert page.evaluate("window.__xss") is None
    assert widget.locator("img").count() == 0
    assert not [u for u in requests_seen if "127.0.0.1:9/" in u]
    assert not page.dialogs
    red = widget.locator(".srw-line", has_text="red text").first
    assert "\x1b" not in red.inner_text()

    button = widget.get_by_test_id("srw-download-result")
    button.wait_for(timeout=30_000)
    with page.expect_download(timeout=60_000) as info:
        button.click()
    saved = tmp_path / "downloaded.bin"
    info.value.save_as(saved)
    assert saved.read_bytes() == RESULT

    widget.screenshot(path=str(artifacts_dir / "step_widget_light.png"))
    choose_theme(page, "JupyterLab Dark")
    try:
        widget.screenshot(path=str(artifacts_dir / "step_widget_dark.png"))
        background = widget.evaluate("el => getComputedStyle(el).backgroundColor")
        assert background != "rgb(255, 255, 255)", "the widget follows the dark theme"
    finally:
        choose_theme(page, "JupyterLab Light")
