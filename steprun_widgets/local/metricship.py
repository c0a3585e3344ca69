"""Shipping what a step logged through ``Run.get_context()`` to its run, in ``runs/log-batch`` requests.

The runner tails the step's channel (:class:`~steprun_widgets.local.channel.ChannelReader`) and,
at most once per ``SHIP_EVERY`` seconds while the step runs, sends what is new: one request, plus
one per full batch of a backlog (at most ``MAX_REQUESTS_PER_TICK`` a tick, so log shipping and
cancel checks keep their pace). After the step exits, :meth:`MetricShipper.drain` sends the rest
before the runner sets the final status.

Exactly once: a record leaves the pending queue only when the server acknowledged its request,
and the runner's requests are retried (``RUNNER_RETRIES``). A request the server applied but whose
answer was lost is sent again identically: MLflow's SQL store keeps one row per (key, timestamp,
step, value) of a run (a primary key; ``_log_metrics`` drops rows it already has), tags are
overwritten with the same value, files re-uploaded whole, so a replay changes nothing. (MLflow
2.x answers a replayed batch that holds NaN/±inf with a 400 integrity error instead: the values
are then sent one by one, and a duplicate-row refusal counts as already stored.) A store without
that key (MLflow's file store) would keep a replayed value twice; replays happen only when an
answer is lost.

Descriptions, tables and lists arrive as records and are kept here as the layout tags
``TAG_METRIC_DESCRIPTIONS``/``TAG_METRIC_TABLES``/``TAG_METRIC_LISTS``, sent when they change.
Each is a JSON value within MLflow's tag value limit (5,000 characters on 2.9): entries that do
not fit are left out (first logged first kept) and the step's job log says which.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from steprun_widgets.core import layout
from steprun_widgets.core.rest import MlflowRest, RunRecord
from steprun_widgets.errors import ServiceError
from steprun_widgets.local import limits
from steprun_widgets.local.channel import CHANNEL_FILE, ChannelReader
from steprun_widgets.local.logship import local_artifact_file

SHIP_EVERY = 1.0
MAX_REQUESTS_PER_TICK = 10
#: Pending records kept in memory at most (the rest waits in the channel file).
PENDING_MAX = 20 * limits.MAX_METRICS_PER_BATCH
#: How SQL stores refuse a row they already have. MLflow 2.x drops replayed rows itself except
#: NaN/±inf ones (its dedup compares NaN != NaN) and answers the whole batch 400 with the
#: database's integrity error; sent alone, such a value is recognised here as already stored.
_ALREADY_STORED = re.compile(r"IntegrityError|UniqueViolation|UNIQUE constraint|Duplicate entry|"
                             r"duplicate key", re.I)
#: Margin under MLflow's request size limit for the JSON around the entries.
_BODY_BUDGET = limits.MAX_BATCH_REQUEST_BYTES - 10_000


class MetricShipper:
    """Ships one step's channel to its run; ``tick()`` while it runs, ``drain()`` after."""

    def __init__(self, rest: MlflowRest, run: RunRecord, folder: Path, local_artifacts: str | None,
                 job: Callable[[str], None]) -> None:
        self.rest = rest
        self.run = run
        self.folder = Path(folder)
        self.reader = ChannelReader(self.folder / CHANNEL_FILE)
        self._local_artifacts = local_artifacts
        self._job = job
        self._pending: deque[tuple[dict, int]] = deque()
        self._descriptions: dict[str, str] = {}
        self._tables: dict[str, list[str]] = {}
        self._lists: list[str] = []
        self._layout_sent: dict[str, str] = {}
        self._dropped_layout: dict[str, int] = {}
        self._last_ship = 0.0
        #: Offset of the channel up to which everything was acknowledged by the server.
        self.shipped_offset = 0
        #: What was shipped, for the job log and the benchmark.
        self.metrics = self.tags = self.files = self.requests = self.ticks = self.refused = 0

    @classmethod
    def prepare(cls, folder: Path) -> Path:
        """An empty channel folder for a step that starts (a leftover channel is removed)."""
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder / CHANNEL_FILE

    def tick(self) -> None:
        """Ship if due (every SHIP_EVERY seconds, or at once when a full batch is waiting)."""
        self._fill()
        if not self._pending and not self._layout_changed():
            return
        if (time.monotonic() - self._last_ship < SHIP_EVERY
                and len(self._pending) < limits.MAX_METRICS_PER_BATCH):
            return
        self.ticks += 1
        self._ship(MAX_REQUESTS_PER_TICK)

    def drain(self) -> None:
        """Ship everything the step handed over (after it exited)."""
        self.ticks += 1
        while True:
            self._fill()
            if not self._pending and not self._layout_changed():
                break
            self._ship(None)
        self._last_ship = time.monotonic()
        if self.metrics or self.tags or self.files or self.refused:
            self._job(f"Logged through Run.get_context(): {self.metrics} metric values, {self.tags} "
                      f"tags, {self.files} files shipped in {self.requests} requests over "
                      f"{self.ticks} ticks" + (f"; {self.refused} refused by the server"
                                               if self.refused else ""))

    # --- internals ------------------------------------------------------------------------------
    def _fill(self) -> None:
        while len(self._pending) < PENDING_MAX:
            records = self.reader.read()
            if not records:
                return
            self._pending.extend(records)

    def _ship(self, max_requests: int | None) -> None:
        """Send batches until nothing is pending or ``max_requests`` full batches went out."""
        sent = 0
        while self._pending or self._layout_changed():
            if max_requests is not None and sent >= max_requests:
                break
            head = self._pending[0][0] if self._pending else None
            if head is not None and "file" in head:
                self._upload(head)
                self._done(1)
            else:
                full = self._send_batch()
                sent += 1
                if not full and max_requests is not None:
                    break  # the tick's one partial batch: the rest waits for the next tick
            self._fill()
        self._last_ship = time.monotonic()

    def _send_batch(self) -> bool:
        """One log-batch of the leading metric/tag records (up to a file); True when it was full."""
        metrics: list[dict] = []
        tags: dict[str, str] = {}
        size, taken, full = 0, 0, False
        for record, _ in self._pending:
            if "file" in record:
                break
            entry_size = len(json.dumps(record)) + 40
            if (len(metrics) + len(tags) >= limits.MAX_ENTITIES_PER_BATCH - 3
                    or size + entry_size > _BODY_BUDGET):
                full = True
                break
            if "m" in record:
                if len(metrics) >= limits.MAX_METRICS_PER_BATCH:
                    full = True
                    break
                metrics.append({"key": record["m"], "value": limits.wire_float(float(record["v"])),
                                "timestamp": int(record["t"]), "step": int(record["s"])})
            elif "tag" in record:
                if record["tag"] not in tags and len(tags) >= limits.MAX_PARAMS_TAGS_PER_BATCH - 3:
                    full = True
                    break
                tags[record["tag"]] = record["v"]
            else:
                self._absorb(record)
            size += entry_size
            taken += 1
        tags.update(self._layout_tags())
        try:
            self._post(metrics, tags)
        except ServiceError as exc:
            if exc.transient:
                raise
            self._one_by_one(metrics, tags, exc)
        self._layout_sent.update({k: v for k, v in tags.items() if k in self._layout_names()})
        self.metrics += len(metrics)
        self.tags += len([k for k in tags if k not in self._layout_names()])
        self._done(taken)
        return full

    def _post(self, metrics: list[dict], tags: dict[str, str]) -> None:
        body: dict = {"run_id": self.run.run_id, "metrics": metrics,
                      "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        self.requests += 1
        self.rest.transport.post_json("/api/2.0/mlflow/runs/log-batch", body)

    def _one_by_one(self, metrics: list[dict], tags: dict[str, str], exc: ServiceError) -> None:
        """A batch the server refused (validated in the step, so rare: a stricter server, or a
        2.x replay holding NaN): send each entity alone so only the bad ones are lost, and say
        which in the job log."""
        if _ALREADY_STORED.search(str(exc)):  # a 2.x replay: only NaN/±inf rows need sending alone
            odd = [m for m in metrics if isinstance(m["value"], str)]
            finite = [m for m in metrics if not isinstance(m["value"], str)]
            try:
                self._post(finite, tags)
                metrics, tags = odd, {}
            except ServiceError as again:
                if again.transient:
                    raise
        else:
            self._job(f"The server refused a batch of logged values ({str(exc)[:300]}); sending "
                      "them one by one")
        for metric in metrics:
            self._send_alone([metric], {}, f"metric {metric['key']!r} step {metric['step']}")
        for key, value in tags.items():
            self._send_alone([], {key: value}, f"tag {key!r}")

    def _send_alone(self, metrics: list[dict], tags: dict[str, str], what: str) -> None:
        try:
            self._post(metrics, tags)
        except ServiceError as exc:
            if exc.transient:
                raise
            if _ALREADY_STORED.search(str(exc)):
                return  # a replay the store refused as a duplicate row: the value is there
            self.refused += 1
            if self.refused <= 20:
                self._job(f"The server refused {what}: {exc}")

    def _upload(self, record: dict) -> None:
        source = self.reader.files / record["src"]
        artifact = record["file"]
        try:
            target = local_artifact_file(self._local_artifacts, self.run, artifact)
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.part")
                shutil.copyfile(source, tmp)
                tmp.replace(target)
            else:
                with open(source, "rb") as f:
                    self.requests += 1
                    self.rest.upload_artifact(self.run, artifact, f)
            self.files += 1
        except ServiceError as exc:
            if exc.transient:
                raise
            self.refused += 1
            self._job(f"File {artifact!r} could not be uploaded: {exc}")
        except OSError as exc:
            self.refused += 1
            self._job(f"File {artifact!r} could not be uploaded: {exc}")

    def _done(self, count: int) -> None:
        for _ in range(count):
            _, offset = self._pending.popleft()
            self.shipped_offset = offset

    # --- the layout tags (descriptions, tables, lists) ---------------------------------------
    def _absorb(self, record: dict) -> None:
        if "desc" in record:
            self._descriptions.setdefault(record["desc"], record["d"])
            if self._descriptions[record["desc"]] != record["d"]:
                self._descriptions[record["desc"]] = record["d"]
        elif "table" in record:
            self._tables[record["table"]] = list(record["cols"])
        elif "list" in record and record["list"] not in self._lists:
            self._lists.append(record["list"])

    @staticmethod
    def _layout_names() -> tuple[str, ...]:
        return (layout.TAG_METRIC_DESCRIPTIONS, layout.TAG_METRIC_TABLES, layout.TAG_METRIC_LISTS)

    def _layout_tags(self) -> dict[str, str]:
        wanted = {layout.TAG_METRIC_DESCRIPTIONS: self._bounded(layout.TAG_METRIC_DESCRIPTIONS,
                                                                self._descriptions),
                  layout.TAG_METRIC_TABLES: self._bounded(layout.TAG_METRIC_TABLES, self._tables),
                  layout.TAG_METRIC_LISTS: self._bounded(layout.TAG_METRIC_LISTS, self._lists)}
        return {k: v for k, v in wanted.items() if v is not None and self._layout_sent.get(k) != v}

    def _layout_changed(self) -> bool:
        return bool(self._layout_tags())

    def _bounded(self, tag: str, entries: dict | list) -> str | None:
        """The tag's JSON with the entries that fit in a tag value (None when there are none)."""
        if not entries:
            return None
        items = list(entries.items()) if isinstance(entries, dict) else list(entries)
        kept = items

        def encode(xs: list) -> str:
            return json.dumps(dict(xs) if isinstance(entries, dict) else xs, separators=(",", ":"),
                              ensure_ascii=False)

        text = encode(kept)
        while len(text) > limits.MAX_TAG_VALUE_LENGTH:
            kept = kept[:max(0, min(len(kept) - 1, len(kept) * limits.MAX_TAG_VALUE_LENGTH // len(text)))]
            text = encode(kept)
        dropped = len(items) - len(kept)
        if dropped > self._dropped_layout.get(tag, 0):
            self._dropped_layout[tag] = dropped
            names = [i[0] if isinstance(i, tuple) else i for i in items[len(kept):]][:5]
            self._job(f"Tag {tag}: {dropped} entries left out to stay within MLflow's tag value "
                      f"limit ({limits.MAX_TAG_VALUE_LENGTH} characters), from {names!r}")
        return text
