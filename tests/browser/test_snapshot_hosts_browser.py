"""The static snapshot where notebooks are really read: JupyterLab light and dark, trusted and
untrusted (Lab's sanitiser drops <style> and <svg> but keeps the SVG's text), and a GitHub-like
sanitiser (nh3). Text keeps its contrast, status badges keep their size whatever the page's CSS,
no picture's text runs on, table cells stay left-aligned. Screenshots go to the artifacts folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from steprun_widgets.widgets import snapshot
from tests.browser.contrast import low_contrast
from tests.browser.lab import KERNELSPEC
from tests.widgets.github_sanitizer import sanitize
from tests.widgets.snapshot_states import pipeline_state, step_state

TEXT = ("pre.srw-log code, .srw-snap h4, .srw-snap b, .srw-snap td, .srw-snap th, .srw-snap figcaption, "
        ".srw-snap .srw-muted")


def _snapshot_html() -> str:
    state = pipeline_state(6, width=2)
    state["selected_step_state"] = step_state(lines=20)
    return snapshot.pipeline_html(state, now_ms=state["start_time"] + 100_000)


def _notebook(path: Path, html: str, trusted: bool) -> Path:
    nb = {"cells": [{"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {},
                     # the file's name in it: a signature is of the content, so an untrusted copy
                     # must differ from the signed one
                     "source": f"PipelineRunWidget(run)  # {path.stem}",
                     "outputs": [{"output_type": "display_data", "metadata": {},
                                  "data": {"text/html": html, "text/plain": "<snapshot>"}}]}],
          "metadata": {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb), encoding="utf-8")
    if trusted:
        subprocess.run([sys.executable, "-m", "nbformat.sign", str(path)], check=True,
                       env={**os.environ, "JUPYTER_PLATFORM_DIRS": "1"}, capture_output=True)
    return path


def _facts(page) -> dict:
    return page.evaluate("""() => {
      const snap = document.querySelector('.srw-snap');
      return {
        svgs: snap.querySelectorAll('svg').length,
        style: snap.querySelectorAll('style').length,
        // a picture's span: the SVG's size when drawn, none when a sanitiser dropped the SVG
        picHeights: [...snap.querySelectorAll('span[style*="font-size"]')]
          .map((s) => Math.round(s.getBoundingClientRect().height)),
        align: [...new Set([...snap.querySelectorAll('td, th')].map((c) => getComputedStyle(c).textAlign))],
        badge: [...snap.querySelectorAll('.srw-badge')].map((b) => getComputedStyle(b).fontSize),
        // the text a reader sees: text nodes drawn at a font size above zero, one after the other
        text: (() => {
          const walk = document.createTreeWalker(snap, NodeFilter.SHOW_TEXT);
          const seen = [];
          for (let n = walk.nextNode(); n; n = walk.nextNode()) {
            const el = n.parentElement;
            if (el.closest('style, svg') || parseFloat(getComputedStyle(el).fontSize) === 0) continue;
            seen.push(n.textContent);
          }
          return seen.join('');
        })(),
      };
    }""")


# light untrusted is left out (it costs a Lab page load): dark untrusted covers the sanitiser
@pytest.mark.parametrize("theme,trusted", [("JupyterLab Light", True), ("JupyterLab Dark", True),
                                           ("JupyterLab Dark", False)],
                         ids=["light-trusted", "dark-trusted", "dark-untrusted"])
def test_snapshot_reads_in_jupyterlab(lab, page, artifacts_dir, theme, trusted):
    name = f"snapshot-{'dark' if 'Dark' in theme else 'light'}-{'trusted' if trusted else 'untrusted'}"
    path = _notebook(Path(lab.root) / f"{name}.ipynb", _snapshot_html(), trusted)
    lab.set_theme(theme)
    try:
        page.goto(f"{lab.url}/lab/tree/{path.name}?reset")
        page.wait_for_selector(".srw-snap pre.srw-log", timeout=60_000)
        light = "true" if "Light" in theme else "false"
        page.wait_for_selector(f"body[data-jp-theme-light='{light}']", state="attached", timeout=30_000)
        page.wait_for_timeout(500)
        page.locator(".srw-snap").first.screenshot(path=str(artifacts_dir / f"{name}.png"))
        facts = _facts(page)
    finally:
        lab.set_theme("JupyterLab Light")
    assert not low_contrast(page, TEXT), low_contrast(page, TEXT)
    assert facts["align"] == ["left"], facts["align"]
    assert "0s10s" not in facts["text"].replace(" ", "") and "s✔" not in facts["text"], facts["text"][:300]
    if trusted:
        assert facts["svgs"] > 0 and min(facts["picHeights"]) > 10, facts
        assert set(facts["badge"]) == {"13px"}, facts["badge"]
    else:  # Lab's sanitiser: no <style>, no <svg>; the pictures' left-over text takes no room
        assert facts["svgs"] == 0 and facts["style"] == 0, facts
        assert facts["picHeights"] and max(facts["picHeights"]) <= 1, facts["picHeights"]


def test_snapshot_reads_after_a_github_like_sanitiser(page, artifacts_dir, tmp_path):
    clean = sanitize(_snapshot_html())
    path = tmp_path / "github.html"
    # GitHub's own page CSS: left-aligned cells with borders (its markdown-body table rules)
    path.write_text("<!doctype html><meta charset=utf-8><style>body{font:14px sans-serif;max-width:1000px}"
                    "td,th{border:1px solid #d0d7de;padding:2px 8px;text-align:left}</style>"
                    f"<body>{clean}</body>", encoding="utf-8")
    page.goto(path.as_uri())
    page.screenshot(path=str(artifacts_dir / "snapshot-github-sanitised.png"), full_page=True)
    text = page.locator("body").inner_text()
    assert "<svg" not in clean and "<style" not in clean
    assert "0s10s" not in text.replace(" ", "") and "s✔" not in text, text[:300]
    for word in ("Steps", "step-000-train-the-model", "✔ Finished", "✖ Failed", "Step view: train",
                 "line 19"):
        assert word in text, word
    assert not low_contrast(page, "pre code, td, th, h4")
