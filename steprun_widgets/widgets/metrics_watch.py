"""What a StepRunWidget keeps of a run's metrics, parameters and images (METRICS-PROTOCOL.md).

Fed by the poller's ``runs/search`` record: a metric's history is read only when its latest value
moved, and only from where the last read ended (:class:`~steprun_widgets.core.metrics.MetricReader`).
The kernel keeps each metric's history at full resolution up to ``METRIC_LIVE_POINTS`` values and
min/max-bucket downsampled beyond, so its memory stays bounded however long the run logs.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import json
import math

from steprun_widgets.core import layout
from steprun_widgets.core.metrics import (
    MetricReader,
    Point,
    latest_points,
    metric_descriptions,
    sort_key,
)
from steprun_widgets.core.rest import MlflowRest, RunRecord
from steprun_widgets.errors import ArtifactStoreError
from steprun_widgets.widgets.downsample import lttb, minmax

#: Points of each metric in the saved ``metrics`` trait (LTTB-downsampled beyond).
METRIC_TRAIT_POINTS = 500
#: Points of each metric the kernel keeps (min/max-bucket downsampled to half beyond).
METRIC_LIVE_POINTS = 100_000
#: History reads a refresh makes at most; metrics left over are read by the next refreshes.
HISTORY_READS_PER_REFRESH = 200
#: PNGs up to this size are sent to the browser as data URLs; larger ones are named only.
IMAGE_PREVIEW_BYTES = 300_000
#: While the run goes on, ``images/`` is listed at most this often (seconds), on refreshes where
#: a metric moved; always at the first look and at the end.
IMAGES_EVERY = 10.0


def encode_value(value: float) -> float | str:
    """A value fit for JSON: non-finite values as the strings "NaN", "Infinity", "-Infinity"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def encode_points(points: list[Point]) -> list[list]:
    return [[step, encode_value(value), ts] for step, value, ts in points]


class MetricSeries:
    """One metric as the kernel keeps it: its reader, its bounded history, its message count."""

    def __init__(self, rest: MlflowRest, run_id: str, key: str) -> None:
        self.key = key
        self.reader = MetricReader(rest, run_id, key)
        self.points: list[Point] = []
        self.seq = 0
        #: The latest value the run record reported when the history was last read.
        self.latest: Point | None = None

    @property
    def count(self) -> int:
        return self.reader.count

    def read(self, latest: Point | None) -> dict | None:
        """Read what is new; the message that tells the browser (None when nothing is)."""
        new, reset = self.reader.read_new(latest)
        self.latest = latest
        if reset:
            self.points = []
        if not new and not reset:
            return None
        new = sorted(new, key=sort_key)
        appended = not reset and (not self.points or sort_key(new[0]) >= sort_key(self.points[-1]))
        if appended:
            self.points.extend(new)
        else:
            for point in new:  # a step went backwards: keep step order
                bisect.insort(self.points, point, key=sort_key)
        squeezed = len(self.points) > METRIC_LIVE_POINTS
        if squeezed:
            self.points = minmax(self.points, METRIC_LIVE_POINTS // 2)
        self.seq += 1
        if appended and not squeezed:
            return {"type": "metric", "name": self.key, "points": encode_points(new), "seq": self.seq}
        return self.snapshot_message()

    def snapshot_message(self) -> dict:
        """The whole live history (answer to ``sync``, or instead of an out-of-order append)."""
        return {"type": "metric_snapshot", "name": self.key, "points": encode_points(self.points),
                "count": self.count, "seq": self.seq}

    def state(self, description: str) -> dict:
        return {"points": encode_points(lttb(self.points, METRIC_TRAIT_POINTS)), "count": self.count,
                "seq": self.seq, "description": description}


def dataset_input_rows(record: RunRecord) -> dict[str, str]:
    """The run's MLflow dataset inputs as rows of the parameters table: ``input dataset <name>`` ->
    where it came from and its digest (Azure ML v1 datasets and datastore references of a step)."""
    rows = {}
    for entry in record.dataset_inputs:
        dataset = entry["dataset"]
        source = dataset.get("source") or ""
        try:
            uri = json.loads(source).get("uri", source)
        except (ValueError, AttributeError):
            uri = source
        shown = ", ".join(map(str, uri)) if isinstance(uri, list) else str(uri)
        rows[f"input dataset {dataset.get('name', '')}"] = f"{shown} (digest {dataset.get('digest', '')})"
    return rows


class MetricsWatch:
    """The metrics, parameters and images of one run, refreshed from its records."""

    def __init__(self, rest: MlflowRest, run_id: str) -> None:
        self.rest = rest
        self.run_id = run_id
        self.series: dict[str, MetricSeries] = {}
        self.descriptions: dict[str, str] = {}
        self.params: dict[str, str] = {}
        self.images: list[dict] = []
        self._image_sizes: dict[str, int | None] = {}
        self._images_at: float | None = None
        self._images_final = False
        #: True while metrics that moved wait for a later refresh (more than one refresh reads).
        self.pending = False

    def update(self, record: RunRecord, messages: list[dict], *, final: bool, now: float) -> None:
        """Read the metrics whose latest value moved; refresh params and images. The messages for
        the browser go into ``messages`` as they are made (a failure later keeps them)."""
        self.params = {k: str(v) for k, v in record.params.items()}
        self.params.update(dataset_input_rows(record))
        self.descriptions = metric_descriptions(record.tags)
        moved = []
        for key, latest in latest_points(record.metrics).items():
            series = self.series.get(key)
            if series is None or series.latest != latest:
                moved.append((key, latest))
        # The rest is read by the next refreshes (the watch is not final while any is pending).
        self.pending = len(moved) > HISTORY_READS_PER_REFRESH
        for key, latest in moved[:HISTORY_READS_PER_REFRESH]:
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = MetricSeries(self.rest, self.run_id, key)
            message = series.read(latest)
            if message is not None:
                messages.append(message)
        if self._images_at is None or (final and not self._images_final) or (
                moved and now - self._images_at >= IMAGES_EVERY):
            self._images_at = now
            self._images_final = final
            # An unreadable store keeps the images shown; StepWatch's error line says why.
            with contextlib.suppress(ArtifactStoreError):
                self.images = self._list_images(record)

    def state(self) -> dict[str, dict]:
        """The ``metrics`` trait: every metric read so far, downsampled to the trait bound."""
        return {key: series.state(self.descriptions.get(key, ""))
                for key, series in sorted(self.series.items()) if series.count}

    def snapshots(self) -> list[dict]:
        return [s.snapshot_message() for _, s in sorted(self.series.items()) if s.count]

    def _list_images(self, record: RunRecord) -> list[dict]:
        if not layout.may_have_images(record.tags):
            return []
        entries = [e for e in self.rest.list_artifacts(self.run_id, layout.IMAGES_DIR)
                   if not e.is_dir and e.path.lower().endswith(".png")]
        known = {i["path"]: i for i in self.images}
        images = []
        for entry in sorted(entries, key=lambda e: e.path):
            name = entry.path.rsplit("/", 1)[-1][:-4]
            old = known.get(entry.path)
            if old is not None and old["size"] == (entry.file_size or 0):
                images.append(old)
                continue
            size = entry.file_size or 0
            item = {"name": name, "path": entry.path, "src": "", "size": size, "note": ""}
            if size > IMAGE_PREVIEW_BYTES:
                item["note"] = f"too large to preview ({size / 1e6:.1f} MB)"
            else:
                got = self.rest.read_range(record, entry.path, 0, IMAGE_PREVIEW_BYTES + 1)
                data = got[0] if got else b""
                if not data.startswith(b"\x89PNG\r\n\x1a\n"):
                    item["note"] = "not a PNG image" if data else "not readable yet"
                elif len(data) > IMAGE_PREVIEW_BYTES:
                    item["note"] = f"too large to preview ({len(data) / 1e6:.1f} MB)"
                else:
                    item["src"] = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
                    item["size"] = len(data)
            images.append(item)
        return images


def metrics_table(records: list[tuple[str, str, RunRecord]]) -> dict:
    """The PipelineRunWidget's ``metrics_table``: per step (node id, run id, record) that has
    metrics, the last value of each, from the latest values its record already carries."""
    names: set[str] = set()
    rows = []
    for node_id, run_id, record in records:
        latest = latest_points(record.metrics)
        if not latest:
            continue
        names.update(latest)
        rows.append({"node_id": node_id, "run_id": run_id,
                     "values": {k: encode_value(p[1]) for k, p in sorted(latest.items())}})
    return {"names": sorted(names), "rows": rows}
