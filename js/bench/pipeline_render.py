"""First render of a PipelineRunWidget in headless Chromium (the built bundle, a stand-in model).

    python js/bench/pipeline_render.py [--steps 50] [--runs 5] [--shape tree|fan] [--no-group]
                                       [--screenshot out.png] [--dark]

Serves the repository on 127.0.0.1, opens js/bench/pipeline_render.html in a fresh page per run and
prints the median times: `render` is the synchronous render() call (layout included), `to frame`
adds style, layout and the first painted frame; `update` is one `steps` change (no relayout);
`longest task` is the longest main-thread task (Long Tasks API, >= 50 ms; 0 when none) between
render() and the painted frame. `--shape fan` is a source, n-2 parallel steps and a sink;
`--no-group` draws every node (no grouping of wide layers: the naive way).
Needs the Python playwright package and a Chromium (CHROMIUM, default /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import statistics
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--screenshot")
    ap.add_argument("--dark", action="store_true")
    ap.add_argument("--select", default="")
    ap.add_argument("--shape", default="tree", choices=("tree", "fan"))
    ap.add_argument("--no-group", action="store_true")
    args = ap.parse_args()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/js/bench/pipeline_render.html?n={args.steps}"
    if args.dark:
        url += "&theme=dark"
    url += f"&shape={args.shape}" + ("&group=0" if args.no_group else "")
    if args.select:
        url += f"&select={args.select}"
    results = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
            for i in range(args.runs):
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(url)
                page.wait_for_function("window.benchResult !== undefined", timeout=30_000)
                results.append(page.evaluate("window.benchResult"))
                if args.screenshot and i == args.runs - 1:
                    page.screenshot(path=args.screenshot, full_page=True)
                page.close()
            browser.close()
    finally:
        server.shutdown()
    if args.shape == "tree" or args.no_group:
        assert all(r["nodes"] == args.steps for r in results), results
    assert all(r["longTasksSupported"] for r in results), "this Chromium has no Long Tasks API"
    med = {k: statistics.median(r[k] for r in results) for k in ("renderMs", "toFrameMs", "updateMs", "layoutWarmMs",
                                                                  "longestTaskMs", "renderLongTasks")}
    print(f"{args.steps} steps, {args.runs} fresh pages, median: render {med['renderMs']:.1f} ms, "
          f"to frame {med['toFrameMs']:.1f} ms, steps update {med['updateMs']:.1f} ms "
          f"(layout alone, warm: {med['layoutWarmMs']:.1f} ms; max to frame {max(r['toFrameMs'] for r in results):.1f} ms)")
    last = results[-1]
    print(f"long tasks: longest {med['longestTaskMs']:.1f} ms median, {max(r['longestTaskMs'] for r in results):.1f} ms "
          f"max, {med['renderLongTasks']:g} a render; painted: {last['nodes']} nodes ({last['groupNodes']} groups), "
          f"{last['timelineRows']} timeline rows, timeline {last['timelineHeight']:.0f} px tall")


if __name__ == "__main__":
    main()
