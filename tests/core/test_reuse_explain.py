"""The sentences of core/reuse_explain.py from hand-made records (the real runs are in
tests/local/test_explain_reuse.py)."""

from __future__ import annotations

from steprun_widgets.core import reuse_explain as rx


def record(why="changed", compared="c" * 32, **parts):
    base = {"source": "s1", "files": {}, "script": "a.py", "arguments": [], "parameters": {},
            "inputs": [], "environment": {}}
    return {"format": rx.FORMAT, "step": "s", "decision": "ran", "why": why, "compared_run": compared,
            "parts": {**base, **parts}}


def test_changed_lines_counts_an_edit_once_and_insertions_by_size():
    assert rx.changed_lines(["a", "b", "c"], ["a", "B", "c"]) == 1
    assert rx.changed_lines(["a"], ["a", "x", "y", "z"]) == 3
    assert rx.changed_lines(None, ["a"]) is None


def test_files_added_removed_binary_and_environment():
    before = record(files={"a.py": {"sha": "1", "lines": ["x"]}, "old.txt": {"sha": "2"},
                           "w.bin": {"sha": "3"}})
    now = record(source="s2", files={"a.py": {"sha": "1", "lines": ["x"]}, "new.txt": {"sha": "4"},
                                     "w.bin": {"sha": "5"}},
                 environment={"python": "d1"})
    text = rx.explain(now, before)
    assert text == ("ran: new.txt added; old.txt removed; w.bin changed; Python changed "
                    "since run cccccccc…")


def test_input_from_another_run_and_argument_by_position():
    before = record(arguments=["a", "b"], inputs=[{"data": "d", "producer": "p", "run": "r" * 32}])
    now = record(arguments=["a", "c"], inputs=[{"data": "d", "producer": "p", "run": "q" * 32,
                                                 "producer_ran": False}])
    assert rx.explain(now, before) == ("ran: argument 2 b → c; input 'd' comes from run qqqqqqqq… "
                                       "instead of rrrrrrrr… since run cccccccc…")


def test_records_that_cannot_be_read_are_no_record():
    assert rx.decode(b"") is None and rx.decode(b"{") is None and rx.decode(b'{"format": 99}') is None
    assert rx.decode(b"\xff") is None and rx.decode(b"[1]") is None
    assert rx.explain(None) == rx.NO_RECORD
    assert "no record of its key" in rx.explain(record(), None)
    assert rx.explain(record(), record()).startswith("ran: no finished run with the same")

