"""The documentation site offline: the executed notebooks show the run's snapshot, nothing is fetched.

scripts/test.sh builds the site strictly beside the Python tests and names it in
``STEPRUN_DOCS_HTML`` (and the file its exit status lands in, ``STEPRUN_DOCS_STATUS``: the test
waits for it); without them this test builds the site itself, with the same command. Every
request that is not a local file is aborted and recorded: the test asserts none was attempted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.static_pages import offline_context

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def docs_html(tmp_path_factory) -> Path:
    given = os.environ.get("STEPRUN_DOCS_HTML")
    if given:
        status = os.environ.get("STEPRUN_DOCS_STATUS")
        if status:  # the build runs beside the tests: wait for its end
            deadline = time.monotonic() + 1200
            while not Path(status).is_file() and time.monotonic() < deadline:
                time.sleep(2)
            assert Path(status).is_file(), f"the docs build did not end within 20 min ({status})"
            code = Path(status).read_text().strip()
            assert code == "0", f"the docs build failed (exit {code}); see docs/_build/sphinx.log"
        out = Path(given)
        assert (out / "index.html").is_file(), f"STEPRUN_DOCS_HTML={given} holds no built site"
        return out
    pytest.importorskip("myst_nb", reason="the docs extra is not installed")
    out = tmp_path_factory.mktemp("docs") / "html"
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q",
                           str(REPO / "docs"), str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return out


def _open_offline(browser, page_path: Path, shot: Path) -> dict:
    context, attempted = offline_context(browser, 1200)
    page = context.new_page()
    try:
        page.goto(page_path.as_uri(), wait_until="load", timeout=60_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(shot), full_page=False)
        snapshots = page.evaluate("""() => [...document.querySelectorAll('.srw-snap')]
            .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height > 0)
            .map(e => e.innerText)""")
        return {"attempted": attempted, "snapshots": snapshots, "title": page.title()}
    finally:
        context.close()


@pytest.mark.parametrize("name", ["quickstart", "teaching"])
def test_executed_notebook_pages_show_the_snapshot_offline(browser, docs_html, artifacts_dir, name):
    seen = _open_offline(browser, docs_html / "_notebooks" / f"{name}.html",
                         artifacts_dir / f"docs-{name}.png")
    assert seen["attempted"] == [], f"the page asked the network for {seen['attempted']}"
    assert seen["snapshots"], "no widget snapshot is visible on the page"
    assert any("Finished" in text for text in seen["snapshots"]), seen["snapshots"][:2]
    if name == "teaching":
        assert any("Failed" in text for text in seen["snapshots"]), "the lesson's failing step"


def test_guides_and_reference_load_offline(browser, docs_html, artifacts_dir):
    for page in ("index.html", "api.html", "run-layout.html"):
        seen = _open_offline(browser, docs_html / page, artifacts_dir / f"docs-{page}.png")
        assert seen["attempted"] == [], f"{page} asked the network for {seen['attempted']}"
        assert "steprun-widgets" in seen["title"]
