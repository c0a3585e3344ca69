"""Reading a run's metrics: whole histories, incremental reads, and Azure ML's value shapes.

MLflow reports every run's *latest* value of each metric with the run itself (``runs/get``,
``runs/search``), so a reader learns from the poll it already makes which metrics moved, and asks
for history only for those.

Why ``metrics/get-history`` with page tokens and not ``metrics/get-history-bulk-interval``:

- ``get-history-bulk-interval`` (MLflow ≥ 2.10; absent on 2.9, the oldest supported server)
  *samples* a step range holding more values than ``max_results`` (at most 2,500), repeats the
  run id in every value (about 40 % more bytes than ``get-history`` for the same values), and
  cannot page through values that share one step (``mlflow.log_metric`` without ``step`` logs
  every value at step 0).
- ``get-history`` returns every value, ordered by timestamp, then step, then value; MLflow 3.x
  pages it (``max_results`` / ``page_token``, an offset into that order), MLflow 2.9 ignores the
  paging fields and sends the whole history (read from its store with no ORDER BY, so the reader
  sorts it by timestamp, then step).

So :class:`MetricReader` keeps the page token that points at the last value it holds and reads
from there: the first value of the answer must be the one it holds (values are unique and never
deleted, so a match proves nothing was inserted before it), the rest is new. The page size is
chosen so the page ends one value before the predicted end, which leaves the token at the last
value for the next read. A mismatch (a value arrived with an older timestamp) reads the whole
history again; a server that does not page sends the whole history each time a metric moves.

Values: MLflow keeps NaN as NaN but stores ±inf as ±1.7976931348623157e308 (the largest float) in
its SQL stores; reading maps that exact value back to ±inf.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from steprun_widgets.core import layout
from steprun_widgets.core.rest import MlflowRest
from steprun_widgets.errors import ServiceError, StepRunError

#: One value of a metric: (step, value, timestamp in ms).
Point = tuple[int, float, int]
#: Most values asked for in one ``get-history`` page.
PAGE_MAX = 25_000
#: Page size when nothing predicts how many values are new.
PAGE_DEFAULT = 1_000
_MAX_FLOAT = sys.float_info.max


def parse_value(value: Any) -> float:
    """A metric value from MLflow JSON as a float: ``"NaN"``/``"Infinity"`` strings become NaN/inf,
    and the largest float (how MLflow's SQL stores keep ±inf) becomes ±inf."""
    number = float(value)  # float("NaN"), float("Infinity"), float("-Infinity") all parse
    if number == _MAX_FLOAT:
        return math.inf
    if number == -_MAX_FLOAT:
        return -math.inf
    return number


def parse_point(raw: Mapping[str, Any]) -> Point:
    """(step, value, timestamp) of one metric value in MLflow's JSON."""
    return (int(raw.get("step") or 0), parse_value(raw.get("value", "NaN")),
            int(raw.get("timestamp") or 0))


def sort_key(point: Point) -> tuple[int, int]:
    """Step order, ties by timestamp (a repeated step keeps the order of logging)."""
    return point[0], point[2]


def latest_points(metrics: Mapping[str, Mapping[str, Any]]) -> dict[str, Point]:
    """The latest value of each metric from a run record's ``metrics``."""
    found = {}
    for key, raw in metrics.items():
        try:
            found[key] = parse_point(raw)
        except (TypeError, ValueError):
            continue
    return found


def _identity(point: Point) -> tuple:
    """What makes a stored value unique (NaN compares by its text: NaN != NaN)."""
    return point[0], repr(point[1]), point[2]


def read_history(rest: MlflowRest, run_id: str, key: str) -> list[Point]:
    """Every value of one metric, in step order (ties by timestamp)."""
    points, _ = MetricReader(rest, run_id, key).read_new()  # reads until the last page
    return sorted(points, key=sort_key)


@dataclass
class MetricReader:
    """Reads one metric's history incrementally: each call returns only the values not seen yet.

    Holds no more than the values of the page its token points into (normally one), so memory
    stays bounded however long the history is.
    """

    rest: MlflowRest
    run_id: str
    key: str
    #: How many values have been read (what the server had at the last read).
    count: int = 0
    #: Token of the page that starts at ``token_offset`` (None: the start of the history).
    token: str | None = None
    token_offset: int = 0
    #: The values held from ``token_offset`` on (verified against the next answer).
    since_token: list[Point] = field(default_factory=list)
    #: Steps seen so far, to predict how many values a new latest step means.
    min_step: int | None = None
    max_step: int | None = None
    last_new: int = 0
    #: False once the server sent more than a page asked for (it does not page: MLflow 2.9).
    paged: bool = True
    requests: int = 0
    #: What makes the last value read unique (to check a whole history against).
    _last: tuple | None = None

    def _predict(self, latest: Point | None) -> int | None:
        """How many values are new, guessed from the latest step (steps are usually indexes)."""
        if latest is None:
            return None
        if not self.count or self.max_step is None or self.min_step is None:
            return latest[0] + 1 if latest[0] >= 0 else None
        moved = latest[0] - self.max_step
        if moved <= 0:  # the step did not move (values without a step): as many as last time
            return max(1, self.last_new)
        density = self.count / max(1, self.max_step - self.min_step + 1)
        return max(1, round(moved * density))

    def read_new(self, latest: Point | None = None) -> tuple[list[Point], bool]:
        """The values logged since the last call (in the server's timestamp order) and whether
        the history had to be read again from the start (the caller then drops what it has).

        ``latest`` is the metric's latest value as the run record reports it: it predicts how
        many values are new, so the read usually takes two requests and re-reads one value.
        """
        saved = dict(vars(self), since_token=list(self.since_token))
        try:
            return self._read_new(latest)
        except BaseException:
            # Nothing read by a call that failed counts as read: the next call reads it again.
            vars(self).update(saved)
            raise

    def _read_new(self, latest: Point | None) -> tuple[list[Point], bool]:
        predicted = self._predict(latest)
        grow = PAGE_DEFAULT
        new: list[Point] = []
        reset = False
        while True:
            held = len(self.since_token)
            if predicted is not None:
                # End the page one value before the predicted end: the token then points at the
                # last value, which the next read checks.
                page = held + max(1, predicted - 1)
            else:
                page = held + grow
                grow = min(PAGE_MAX, grow * 2)
            page = max(1, min(page, PAGE_MAX))
            rows, token = self.rest.get_metric_history(self.run_id, self.key, page, self.token)
            self.requests += 1
            try:
                points = [parse_point(r) for r in rows]
            except (TypeError, ValueError):
                raise ServiceError(f"Malformed value in the history of metric {self.key!r} of run "
                                   f"{self.run_id!r} from {self.rest.transport.display_url}",
                                   url=self.rest.transport.base_url) from None
            if not self.paged or len(points) > page:
                # No paging (MLflow 2.9): the whole history came each time, in no stated order
                # (2.9's store has no ORDER BY): put it in the order paging servers use.
                self.paged = False
                points.sort(key=lambda p: (p[2], p[0]))
                fresh, reset_now = self._whole(points)
                return fresh, reset or reset_now
            if [_identity(p) for p in points[:held]] != [_identity(p) for p in self.since_token]:
                # A value arrived with an older timestamp, so offsets moved: read from the start.
                self._restart()
                new, reset, predicted = [], True, None
                continue
            fresh = points[held:]
            self._take(fresh)
            new.extend(fresh)
            if token and len(points) == page:
                self.token, self.token_offset = token, self.token_offset + page
                self.since_token = []
                left = None if predicted is None else predicted - len(fresh)
                predicted = left if left is not None and left > 1 else None
                continue
            self.since_token = points
            if new:
                self.last_new = len(new)
            return new, reset

    def _whole(self, points: list[Point]) -> tuple[list[Point], bool]:
        known = self.count
        if known and (len(points) < known or _identity(points[known - 1]) != self._last):
            self._restart()
            self._take(points)
            return points, True
        fresh = points[known:]
        self._take(fresh)
        if fresh:
            self.last_new = len(fresh)
        return fresh, False

    def _take(self, points: list[Point]) -> None:
        if not points:
            return
        steps = [p[0] for p in points]
        low, high = min(steps), max(steps)
        self.min_step = low if self.min_step is None else min(self.min_step, low)
        self.max_step = high if self.max_step is None else max(self.max_step, high)
        self.count += len(points)
        self._last = _identity(points[-1])

    def _restart(self) -> None:
        self.count = 0
        self.token, self.token_offset, self.since_token = None, 0, []
        self.min_step = self.max_step = None
        self._last = None


# --- Azure ML's value shapes ----------------------------------------------------------------------
def _json_tag(tags: Mapping[str, str], name: str, kind: type) -> Any:
    try:
        value = json.loads(tags.get(name) or "null")
    except ValueError:
        return kind()
    return value if isinstance(value, kind) else kind()


def metric_tables(tags: Mapping[str, str]) -> dict[str, list[str]]:
    """``{table: [column, ...]}`` of the tables a step logged with ``log_row`` (from its tag)."""
    tables = _json_tag(tags, layout.TAG_METRIC_TABLES, dict)
    return {str(t): [str(c) for c in cols] for t, cols in tables.items() if isinstance(cols, list)}


def metric_lists(tags: Mapping[str, str]) -> set[str]:
    """Names logged with ``log_list``: they read back as lists even of one value."""
    return {str(n) for n in _json_tag(tags, layout.TAG_METRIC_LISTS, list)}


def metric_descriptions(tags: Mapping[str, str]) -> dict[str, str]:
    """``{metric: description}`` a step gave with ``run.log(..., description=...)``."""
    found = _json_tag(tags, layout.TAG_METRIC_DESCRIPTIONS, dict)
    return {str(k): str(v) for k, v in found.items()}


def shape_metrics(histories: Mapping[str, list[Point]], tags: Mapping[str, str]) -> dict[str, Any]:
    """Azure ML's shapes: a value for a metric logged once, a list for one logged several times
    (or with ``log_list``), ``{column: [values]}`` for a table logged with ``log_row``."""
    lists = metric_lists(tags)
    result: dict[str, Any] = {}
    in_tables: set[str] = set()
    for table, columns in metric_tables(tags).items():
        names = {c: layout.table_column_metric(table, c) for c in columns}
        if not any(n in histories for n in names.values()):
            continue
        result[table] = {c: [p[1] for p in histories.get(n, [])] for c, n in names.items()}
        in_tables.update(names.values())
    for name in sorted(histories):
        if name in in_tables:
            continue
        values = [p[1] for p in histories[name]]
        result[name] = values if len(values) != 1 or name in lists else values[0]
    return result


def read_metrics(rest: MlflowRest, run_id: str, latest: Iterable[str], tags: Mapping[str, str],
                 name: str | None = None) -> dict[str, Any]:
    """A run's metrics in Azure ML's shapes; ``name``: only that metric or table (an error naming
    it when the run has none such)."""
    keys = sorted(latest)
    if name is not None:
        columns = metric_tables(tags).get(name)
        wanted = ([layout.table_column_metric(name, c) for c in columns] if columns else [name])
        keys = [k for k in keys if k in wanted]
        if not keys:
            known = ", ".join(sorted(shape_metrics({k: [] for k in latest}, tags))[:20]) or "none"
            raise StepRunError(f"Run {run_id!r} has no metric named {name!r} (metrics: {known})")
    histories = {k: read_history(rest, run_id, k) for k in keys}
    shaped = shape_metrics(histories, tags)
    return {name: shaped[name]} if name is not None else shaped
