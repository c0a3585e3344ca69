"""Pure functions of the layout module (no server needed)."""

from __future__ import annotations

import pytest

from steprun_widgets.core import layout

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("mlflow_status", "tags", "expected"), [
    ("SCHEDULED", {}, layout.QUEUED),
    ("SCHEDULED", {layout.TAG_NOT_STARTED: "true"}, layout.NOT_STARTED),
    ("RUNNING", {}, layout.RUNNING),
    ("RUNNING", {layout.TAG_HEARTBEAT: layout.heartbeat_value(NOW - 1)}, layout.RUNNING),
    ("RUNNING", {layout.TAG_HEARTBEAT: layout.heartbeat_value(NOW - layout.HEARTBEAT_STALE_AFTER - 1)},
     layout.NOT_RESPONDING),
    ("RUNNING", {layout.TAG_HEARTBEAT: "not a number"}, layout.RUNNING),
    ("FINISHED", {layout.TAG_HEARTBEAT: layout.heartbeat_value(NOW - 3600)}, layout.FINISHED),
    ("FAILED", {}, layout.FAILED),
    ("KILLED", {}, layout.CANCELED),
    ("", {}, layout.NOT_STARTED),
])
def test_azureml_status_words(mlflow_status, tags, expected):
    assert layout.azureml_status(mlflow_status, tags, now=NOW) == expected


def test_terminal_statuses():
    assert {s for s in layout.STATUS_MAP.values() if layout.is_terminal(s)} == {
        layout.FINISHED, layout.FAILED, layout.CANCELED}
    assert not layout.is_terminal(layout.NOT_RESPONDING)
    assert layout.MLFLOW_STATUS[layout.CANCELED] == "KILLED"


def test_graph_round_trip_and_malformed_tags():
    nodes = [{"id": "n1", "name": "a"}, {"id": "n2", "name": "b"}]
    assert layout.decode_graph(layout.encode_graph(nodes, [("n1", "n2")])) == {
        "nodes": nodes, "edges": [("n1", "n2")]}
    for bad in (None, "", "{", "[]", '"x"', "5", "null", '{"nodes": 5, "edges": {"a": 1}}',
                '{"nodes": [1, {"name": "no id"}], "edges": [[1], "ab"]}',
                '{"nodes": [{"id": ["a"]}, {"id": 3}], "edges": [[["a"], "b"], ["a", {"b": 1}, []]]}'):
        assert layout.decode_graph(bad) == {"nodes": [], "edges": []}, bad
        assert layout.decode_edge_data(bad) == {}, bad  # unhashable ends must not raise
