"""Unit tests of the snapshot's pieces: the graph layout, the ANSI conversion, the timeline, and
what a GitHub-like sanitiser leaves of a snapshot (the real-run tests are in
test_snapshot_and_details.py)."""

from __future__ import annotations

import re

import pytest

from steprun_widgets.widgets import snapshot
from steprun_widgets.widgets.graph_layout import (
    NODE_H,
    NODE_W,
    assign_layers,
    crossings,
    layout_graph,
    normalize_graph,
)
from steprun_widgets.widgets.snapshot_logs import ansi_html, sgr_only, tail_lines
from steprun_widgets.widgets.snapshot_timeline import axis_ticks, offset_text, step_bars, time_range
from tests.widgets.github_sanitizer import sanitize, tables, text
from tests.widgets.snapshot_states import pipeline_state, step_state

XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
XSS_NAME = '<img src=x onerror="alert(1)">'  # no "/": a step name may not hold one


def graph(edges: list[tuple[str, str]], ids: str) -> dict:
    return {"nodes": [{"id": i, "name": i.upper()} for i in ids], "edges": [list(e) for e in edges]}


# --- layout -----------------------------------------------------------------------------------------
def test_layers_are_longest_paths():
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d"), ("x", "d")]
    assert assign_layers(list("abcdx"), edges) == {"a": 0, "b": 1, "c": 2, "d": 3, "x": 0}


def test_a_cycle_still_gets_layers():
    layers = assign_layers(list("abc"), [("a", "b"), ("b", "c"), ("c", "a")])
    assert sorted(layers) == ["a", "b", "c"] and len(set(layers.values())) == 3


def test_graph_is_normalised_like_the_live_view():
    nodes, edges = normalize_graph({
        "nodes": [{"id": "a"}, {"id": "a", "name": "dup"}, {"id": 2, "name": "two"}, {"name": "x"}, "junk"],
        "edges": [["a", "2"], ["a", "2"], ["a", "a"], ["a", "zz"], ["2"]]})
    assert nodes == [("a", "a"), ("2", "two")] and edges == [("a", "2")]


def test_layout_puts_columns_left_to_right_without_overlaps():
    g = graph([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("a", "d"), ("e", "c")], "abcde")
    layout = layout_graph(g)
    x = {i: p[0] for i, p in layout.positions.items()}
    assert x["a"] == x["e"] < x["b"] == x["c"] < x["d"]
    for i, (xi, yi) in layout.positions.items():
        for j, (xj, yj) in layout.positions.items():
            if i < j and xi == xj:
                assert abs(yi - yj) >= NODE_H, (i, j)
        assert xi >= 0 and xi + NODE_W <= layout.width and yi >= 0 and yi + NODE_H <= layout.height
    # the long edge a -> d goes through column 1 beside b and c, not through them
    (points,) = [p for a, b, p in layout.edges if (a, b) == ("a", "d")]
    assert len(points) == 3
    mid_x, mid_y = points[1]
    for node in "bc":
        nx, ny = layout.positions[node]
        assert not (nx <= mid_x <= nx + NODE_W and ny <= mid_y <= ny + NODE_H)
    assert layout.order.index("a") < layout.order.index("b") < layout.order.index("d")
    assert sorted(layout.order) == list("abcde")


def test_ordering_removes_a_crossing_the_input_order_has():
    # graph order puts b above c, but b's input y is below c's input x: swapping b and c uncrosses
    g = graph([("x", "c"), ("y", "b")], "xybc")
    layout = layout_graph(g)
    assert layout.positions["c"][1] < layout.positions["b"][1]
    assert crossings([["x", "y"], ["c", "b"]], [["x", "c"], ["y", "b"]]) == 0
    assert crossings([["x", "y"], ["b", "c"]], [["x", "c"], ["y", "b"]]) == 1


def test_fifty_steps_lay_out_with_few_crossings():
    layout = layout_graph(pipeline_state(50)["graph"])
    assert len(layout.order) == 50 and max(layout.layers.values()) == 12
    assert layout.width == 12 * 2 + 13 * NODE_W + 12 * 56


def test_empty_graph():
    layout = layout_graph({"nodes": [], "edges": []})
    assert layout.order == [] and layout.width == 0
    assert "This pipeline has no steps" in snapshot.pipeline_html({"graph": {}, "steps": []})


# --- ANSI -------------------------------------------------------------------------------------------
def test_sgr_colours_and_bold_become_inline_styled_spans():
    out = ansi_html("\x1b[31mred\x1b[0m plain \x1b[1;32mbold green\x1b[0m \x1b[38;5;208m256\x1b[0m "
                    "\x1b[38;2;10;20;30mtrue\x1b[0m")
    assert '<span style="color: #aa0000">red</span> plain ' in out
    assert re.search(r'<span style="[^"]*font-weight: bold[^"]*">bold green</span>', out)
    assert '<span style="color: #ff8700">256</span>' in out and "true</span>" in out
    assert "\x1b" not in out and "class=" not in out


def test_only_sgr_is_kept_and_everything_else_is_removed():
    text = ("a\x1b[?25lb\x1b[2Kc\x1b]0;title\x07d\x1b]8;;https://evil.example/\x07link\x1b]8;;\x07"
            "\x1b(B\x1b7e\x07\x08f\x1b[38:5:1mg\x1b[3")
    assert sgr_only(text) == "abcdlinkefg"
    assert "<a" not in ansi_html(text) and ansi_html(text) == "abcdlinkefg"


def test_carriage_return_keeps_what_was_written_last():
    assert sgr_only("10%\r50%\r100%\nnext\r\n") == "100%\nnext\n"
    assert sgr_only("done\r") == "done"


def test_log_text_is_escaped_before_any_markup():
    out = ansi_html(f"\x1b[31m{XSS}\x1b[0m & 'q'")
    assert "<img" not in out and "<script" not in out
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;" in out
    assert "&amp; &#x27;q&#x27;" in out


def test_tail_keeps_the_last_lines_within_a_budget():
    text = "".join(f"line {i}\n" for i in range(1000))
    shown, count, total = tail_lines(text, lines=200)
    assert (count, total) == (200, 1000) and shown.endswith("line 999") and shown.startswith("line 800")
    shown, count, _ = tail_lines(text, lines=200, chars=100)
    assert len(shown) <= 100 and shown.endswith("line 999")
    shown, count, _ = tail_lines("x" * 500, chars=50)
    assert shown == "x" * 50 and count == 1


# --- timeline ---------------------------------------------------------------------------------------
def test_timeline_range_and_bars():
    t = 1_000_000.0
    done = {"status": "Finished", "queued_time": t, "start_time": t + 2000, "end_time": t + 10_000}
    live = {"status": "Running", "queued_time": t + 1000, "start_time": t + 3000, "end_time": None}
    rng = time_range([done, live], now_ms=t + 30_000)
    assert (rng.t0, rng.t1) == (t, t + 30_000)
    assert step_bars(done, t + 30_000) == ((t, t + 2000), (t + 2000, t + 10_000))
    assert step_bars(live, t + 30_000) == ((t + 1000, t + 3000), (t + 3000, t + 30_000))
    assert time_range([{"status": "NotStarted"}], now_ms=t) is None
    assert axis_ticks(30_000) == [0, 10_000, 20_000, 30_000]  # round steps, at most 4 (+ the origin)
    assert axis_ticks(300_000) == [0, 120_000, 240_000]
    assert [offset_text(t) for t in (0, 65_000, 120_000, 7_200_000, 7_380_000)] == [
        "0s", "1m 05s", "2m", "2h", "2h 03m"]


# --- whole snapshots --------------------------------------------------------------------------------
def test_pipeline_snapshot_has_graph_steps_timeline_and_reuse():
    state = pipeline_state(6, width=2)
    html = snapshot.pipeline_html(state, now_ms=state["start_time"] + 100_000)
    assert html.count("<svg") == 1 + 1 + 6  # the graph, the axis, one bar per step
    graph_svg = html[html.index('<svg class="srw-svg srw-graph"'):]
    graph_svg = graph_svg[:graph_svg.index("</svg>")]
    assert graph_svg.count("data-node-id=") == 6
    assert graph_svg.count('fill="none" stroke=') == len(state["graph"]["edges"])
    assert '#cf222e">✖</text>' in graph_svg and "stroke-dasharray" in graph_svg  # failed, reused
    assert '♻ run <code title="000000000000000000000000000003e9">00000000…</code>' in html
    assert "<script" not in html


def test_sanitised_snapshot_still_reads_in_order():
    state = pipeline_state(6, width=2)
    html = snapshot.pipeline_html(state, now_ms=state["start_time"] + 100_000)
    clean = sanitize(html)
    assert "<svg" not in clean and "<style" not in clean and "style=" not in clean and "class=" not in clean
    steps_table = next(t for t in tables(clean) if t[0][:2] == ["step", "status"])
    order = layout_graph(state["graph"]).order
    names = {s["node_id"]: s["name"] for s in state["steps"]}
    statuses = {s["node_id"]: s["status"] for s in state["steps"]}
    icons = {"Finished": "✔", "Failed": "✖", "Running": "⟳", "Queued": "◔"}
    assert [row[:2] for row in steps_table[1:]] == [[names[i], f"{icons[statuses[i]]} {statuses[i]}"]
                                                   for i in order]
    assert "✔ 3 Finished · ⟳ 1 Running" in text(clean) and "♻ 1 reused" in clean


def test_sanitised_step_snapshot_keeps_the_log_and_words():
    clean = sanitize(snapshot.step_html(step_state(lines=5)))
    assert "✖ Failed" in clean
    assert "<pre><code>line 0 <b>" not in clean  # bold is a styled span, not markup from the log
    assert re.search(r"<pre><code><span>line 0</span> <span>bold</span>", clean)


@pytest.mark.parametrize("kind", ["pipeline", "step"])
def test_server_text_is_escaped_everywhere(kind):
    if kind == "pipeline":
        state = pipeline_state(6, width=2, hostile=XSS)
        state["error"] = XSS
        state["selected_step_state"] = step_state(hostile=XSS)
        html = snapshot.pipeline_html(state)
    else:
        html = snapshot.step_html(step_state(hostile=XSS))
    assert "<img" not in html and "<script" not in html and "onerror=\"" not in html
    assert html.count("&lt;script&gt;alert(2)&lt;/script&gt;") >= 3
    clean = sanitize(html)  # a sanitiser sees text, not tags, where the snapshot had server text
    assert "<img" not in clean and "<script" not in clean
    assert clean.count("&lt;script&gt;alert(2)&lt;/script&gt;") >= 3
