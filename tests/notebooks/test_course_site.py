"""A course site from the executed teaching notebook (Sphinx + MyST-NB + sphinx-book-theme), as
docs/course-site.md says to build it, read in Chromium with the network off.

The page needs nothing from outside (every non-local request is refused and none is made), the
run's snapshot shows, its status badges keep their size under the theme's Bootstrap (``.badge``),
and its text keeps its contrast in the theme's light and dark modes.

It lives beside the notebook tests (not in tests/browser) so it builds from the teaching notebook
those tests executed in the same session, instead of running the lesson a second time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.contrast import low_contrast
from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS
from tests.notebooks.helpers import executed_notebook
from tests.static_pages import offline_context

REPO = Path(__file__).resolve().parents[2]
TEXT = "pre.srw-log code, .srw-snap h4, .srw-snap b, .srw-snap td, .srw-snap th, .srw-snap .srw-muted"


def _conf_from_docs() -> str:
    """The conf.py that docs/course-site.md gives (so the page and the test cannot drift apart)."""
    doc = (REPO / "docs" / "course-site.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "myst_nb" in b)
    return block


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.mark.browser
def test_course_site_builds_and_reads_offline(browser, tmp_path_factory, tracking_uri):
    artifacts_dir = REPO / "tests" / "notebooks" / "artifacts"  # screenshots (not committed)
    artifacts_dir.mkdir(exist_ok=True)
    (artifacts_dir / ".gitignore").write_text("*\n", encoding="utf-8")
    executed = executed_notebook("teaching.ipynb", tmp_path_factory, tracking_uri)
    site = tmp_path_factory.mktemp("course")
    shutil.copy(executed, site / "teaching.ipynb")
    (site / "conf.py").write_text(_conf_from_docs(), encoding="utf-8")
    (site / "index.md").write_text("# Pipelines course\n\n```{toctree}\nteaching\n```\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", str(site),
                           str(site / "_build" / "html")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    page_path = site / "_build" / "html" / "teaching.html"
    assert "cdn.jsdelivr" not in page_path.read_text(encoding="utf-8")

    context, refused = offline_context(browser, 1200, allowed=("file:", "data:"))
    page = context.new_page()
    try:
        page.goto(page_path.as_uri(), wait_until="load", timeout=60_000)
        snap = page.locator(".srw-snap").first
        snap.wait_for(timeout=30_000)
        assert page.locator(".srw-snap").count() >= 2
        assert snap.is_visible() and "Finished" in snap.inner_text()
        sizes = page.evaluate("() => [...document.querySelectorAll('.srw-snap .srw-badge')]"
                              ".map(b => getComputedStyle(b).fontSize)")
        assert sizes and set(sizes) == {"13px"}, sizes  # Bootstrap's .badge would make them 9.75px
        for mode in ("light", "dark"):
            page.evaluate(f"() => {{ document.documentElement.dataset.theme = '{mode}';"
                          f" document.documentElement.dataset.mode = '{mode}'; }}")
            page.wait_for_timeout(300)
            snap.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / f"course_site_{mode}.png"))
            bad = low_contrast(page, TEXT)
            assert not bad, (mode, bad[:5])
        assert not refused, f"the page asked the network for {refused}"
    finally:
        context.close()
