"""Static pages in headless Chromium: a local HTTP server for the repository's files (the built JS
bundles and the stand-in pages under js/bench/, no kernel, no JupyterLab), and a context with the
network off for pages that must read offline (exports, the docs site, a course site)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def serve_repository() -> Iterator[str]:
    """Serves the repository root on 127.0.0.1 (a free port) and yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(ROOT)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def offline_context(browser, width: int, height: int = 900,
                    allowed: tuple[str, ...] = ("file:",)) -> tuple:
    """A Chromium context with the network off that aborts, and records, every request whose URL
    does not start with one of ``allowed``: ``(context, the URLs it refused)``."""
    context = browser.new_context(offline=True, viewport={"width": width, "height": height})
    refused: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith(allowed):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return context, refused
