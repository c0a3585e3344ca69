"""Unit tests of the downsampling functions and of the reader's rollback (one function each)."""

from __future__ import annotations

import math

import pytest

from steprun_widgets.core.metrics import MetricReader
from steprun_widgets.errors import ServiceError
from steprun_widgets.widgets.downsample import lttb, minmax


def series(n: int) -> list[tuple[int, float, int]]:
    return [(i, math.sin(i / 50) + (5.0 if i == 777 else 0.0), 1000 + i) for i in range(n)]


@pytest.mark.parametrize("method", [lttb, minmax])
def test_downsampling_is_bounded_and_keeps_the_ends_and_the_spike(method):
    points = series(100_000)
    points[5000] = (5000, math.nan, 6000)
    out = method(points, 500)
    assert len(out) <= 500
    assert out[0] == points[0] and out[-1] == points[-1]
    assert [p[0] for p in out] == sorted(p[0] for p in out)
    assert any(p[0] == 777 for p in out), "the spike was averaged away"
    assert any(p[0] == 5000 and math.isnan(p[1]) for p in out), "the NaN was dropped"
    assert method(points[:10], 500) == points[:10]


class FlakyRest:
    """Serves a history in pages and fails on the call numbered ``fail_on``."""

    def __init__(self, values: int, fail_on: int) -> None:
        self.rows = [{"key": "m", "value": float(i), "timestamp": i, "step": i} for i in range(values)]
        self.calls = 0
        self.fail_on = fail_on

    def get_metric_history(self, run_id, key, max_results=None, page_token=None):
        self.calls += 1
        if self.calls == self.fail_on:
            raise ServiceError("server went away", transient=True)
        start = int(page_token or 0)
        page = self.rows[start:start + max_results]
        more = start + max_results < len(self.rows)
        return page, (str(start + max_results) if more else None)


def test_a_read_that_fails_half_way_counts_nothing_as_read():
    rest = FlakyRest(5000, fail_on=3)
    reader = MetricReader(rest, "r", "m")
    with pytest.raises(ServiceError):
        reader.read_new()
    assert reader.count == 0 and reader.token is None
    new, reset = reader.read_new()
    assert not reset and [p[0] for p in new] == list(range(5000))


class UnpagedRest:
    """Answers as MLflow 2.9 does: the whole history, paging fields ignored, in store order."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.calls = 0

    def log(self, start: int, stop: int) -> None:
        self.rows += [{"key": "m", "value": float(i), "timestamp": i, "step": i} for i in range(start, stop)]
        self.rows.reverse()  # 2.9 reads with no ORDER BY: any order may come

    def get_metric_history(self, run_id, key, max_results=None, page_token=None):
        self.calls += 1
        return list(self.rows), None


def test_a_server_that_does_not_page_gives_whole_histories_read_as_new_values():
    rest = UnpagedRest()
    reader = MetricReader(rest, "r", "m")
    rest.log(0, 3000)
    new, reset = reader.read_new((2999, 2999.0, 2999))
    assert not reset and [p[0] for p in new] == list(range(3000))
    rest.log(3000, 3010)
    new, reset = reader.read_new((3009, 3009.0, 3009))
    assert not reset and [p[0] for p in new] == list(range(3000, 3010)) and not reader.paged
