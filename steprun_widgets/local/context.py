"""``Run.get_context()``: the step's own run, as Azure ML v1 scripts know it.

In a step the runner started, the run hands everything it logs to the runner over the local
channel (:mod:`steprun_widgets.local.channel`); the runner ships it to the tracking server in
batches, so the step never holds the server's credentials. Every call is validated here against
MLflow's limits (:mod:`steprun_widgets.local.limits`), so a bad name or value is a
:class:`~steprun_widgets.errors.LoggingError` at the call that made it, never a failed batch later.
Outside a step, :meth:`Run.get_context` gives an offline run that prints what is logged and never
raises (a call that would fail in a step prints why).

Mappings: ``bool`` is logged as 1.0/0.0; numpy and other real scalars through ``__float__``; NaN
and ±inf are real MLflow NaN/±inf (MLflow's SQL stores keep ±inf as ±1.7976931348623157e308).
``step=None`` is one past the highest step logged so far under that name (so the value's index in
its series when no step is ever given); an explicit step is kept as given, also when it goes back.
A value logged twice with the same name, step and millisecond is one point (MLflow's rule).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from steprun_widgets.core import layout
from steprun_widgets.core.rest import check_artifact_path
from steprun_widgets.core.v1_names import V1Members
from steprun_widgets.errors import LoggingError, StepRunError
from steprun_widgets.local import limits
from steprun_widgets.local.channel import ChannelWriter, encode
from steprun_widgets.local.plan import CONTEXT_ENV, INPUT_DATASETS_ENV, RUN_ID_ENV

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_context: Run | None = None
_context_lock = threading.Lock()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Run(metaclass=V1Members):
    """The run of the step this script runs in (or an offline run outside a step).

    Get it with :meth:`Run.get_context`; every method may be called from several threads.
    """

    def __init__(self, run_id: str, channel: ChannelWriter | None) -> None:
        self.id = run_id
        self._channel = channel
        self._lock = threading.Lock()
        self._next_step: dict[str, int] = {}
        self._rows: dict[str, int] = {}
        self._columns: dict[str, list[str]] = {}
        self._described: dict[str, str] = {}
        self._names: set[str] = set()

    @classmethod
    def get_context(cls, allow_offline: bool = True) -> Run:
        """The current step's run; outside a step an offline run (or a StepRunError when
        ``allow_offline`` is False). The same object for the whole process."""
        global _context
        with _context_lock:
            path, run_id = os.environ.get(CONTEXT_ENV), os.environ.get(RUN_ID_ENV)
            if _context is None or _context._stale(path):
                if path and run_id:
                    try:
                        _context = Run(run_id, ChannelWriter(path))
                    except OSError as exc:
                        raise StepRunError(f"Run.get_context(): cannot open the step's channel "
                                           f"{path!r} ({exc.strerror})") from None
                elif not allow_offline:
                    raise StepRunError("Run.get_context(allow_offline=False) outside a step: no "
                                       f"{CONTEXT_ENV} in the environment")
                else:
                    _context = OfflineRun(f"OfflineRun_{uuid.uuid4()}", None)
            return _context

    def _stale(self, path: str | None) -> bool:
        current = str(self._channel.path) if self._channel is not None else None
        return current != path

    @property
    def input_datasets(self) -> dict[str, Any]:
        """The step's dataset inputs by name: the local path of a FileDataset given as_mount() or
        as_download(), a TabularDataset (or FileDataset) object reading the step's copy otherwise."""
        import json

        from steprun_widgets.core.dataset import local_dataset

        raw = os.environ.get(INPUT_DATASETS_ENV)
        entries = json.loads(raw) if raw else {}
        return {name: entry["path"] if entry["kind"] == "file" and entry["mode"] in ("mount", "download")
                else local_dataset(entry, entry["path"]) for name, entry in entries.items()}

    @property
    def offline(self) -> bool:
        """True outside a step: nothing goes to a tracking server."""
        return self._channel is None

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}{', offline' if self.offline else ''})"

    # --- metrics --------------------------------------------------------------------------------
    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log one value of the metric ``name`` (a number; see the module doc for mappings)."""
        try:
            self._check_name(name)
            number = limits.metric_value(name, value)
            given = None if step is None else limits.metric_step(name, step)
            desc = self._description(name, description)
        except LoggingError as exc:
            return self._refuse(exc)
        with self._lock:
            at = self._take_step(name, given)
            records = [{"m": name, "v": number, "t": _now_ms(), "s": at}]
            self._describe(name, desc, records)
            self._send(records, f"metric {name} = {number!r} (step {at})")

    def log_list(self, name: str, values: Iterable[Any], description: str = "") -> None:
        """Log a list of values of ``name`` (steps 0, 1, ... after what it has); it reads back as a list."""
        try:
            self._check_name(name)
            if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
                raise LoggingError(f"Metric {name!r}: log_list takes a list of numbers, got "
                                   f"{type(values).__name__}")
            numbers = [limits.metric_value(name, v) for v in values]
            desc = self._description(name, description)
        except LoggingError as exc:
            return self._refuse(exc)
        with self._lock:
            ts = _now_ms()
            records: list[dict] = [{"list": name}]
            records += [{"m": name, "v": v, "t": ts, "s": self._take_step(name, None)} for v in numbers]
            self._describe(name, desc, records)
            self._send(records, f"list {name} = {numbers!r}")

    def log_row(self, name: str, description: str | None = None, **columns: Any) -> None:
        """Log one row of the table ``name``: column ``c`` is the metric ``name/c``, step = row index."""
        self.log_table(name, {c: [v] for c, v in columns.items()}, description or "")

    def log_table(self, name: str, value: Mapping[str, Iterable[Any]], description: str = "") -> None:
        """Log rows of the table ``name`` as ``{column: [values...]}`` (columns of equal length)."""
        try:
            self._check_name(name, "Table")
            if not isinstance(value, Mapping) or not value:
                raise LoggingError(f"Table {name!r}: give the columns as {{column: [values...]}}")
            cols: dict[str, list[float]] = {}
            for column, values in value.items():
                metric = layout.table_column_metric(name, column)
                self._check_name(metric, f"Table {name!r} column")
                if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                    raise LoggingError(f"Table {name!r}: column {column!r} is not a list of values")
                cols[column] = [limits.metric_value(metric, v) for v in values]
            lengths = {len(v) for v in cols.values()}
            if len(lengths) > 1:
                raise LoggingError(f"Table {name!r}: columns have different lengths "
                                   f"({', '.join(f'{c}: {len(v)}' for c, v in cols.items())})")
            desc = self._description(name, description)
        except LoggingError as exc:
            return self._refuse(exc)
        with self._lock:
            known = self._columns.setdefault(name, [])
            records: list[dict] = []
            if any(c not in known for c in cols):
                known.extend(c for c in cols if c not in known)
                records.append({"table": name, "cols": list(known)})
            first = self._rows.get(name, 0)
            rows = lengths.pop() if lengths else 0
            self._rows[name] = first + rows
            ts = _now_ms()
            for column, values in cols.items():
                metric = layout.table_column_metric(name, column)
                for i, v in enumerate(values):
                    records.append({"m": metric, "v": v, "t": ts, "s": first + i})
                    self._next_step[metric] = max(self._next_step.get(metric, 0), first + i + 1)
            self._describe(name, desc, records)
            self._send(records, f"table {name}, rows {first}..{first + rows - 1}: "
                                f"{ {c: v for c, v in cols.items()} }")

    # --- tags and files -------------------------------------------------------------------------
    def tag(self, key: str, value: Any = None) -> None:
        """Set the tag ``key`` (value ``""`` when None). Layout tags (``mlflow.*``, ``azureml.*``,
        ``steprun.*``) are the runner's and are refused."""
        try:
            limits.check_key("Tag", key)
            if key.startswith(layout.RESERVED_TAG_PREFIXES):
                raise LoggingError(f"Tag {key!r}: tags starting with "
                                   f"{', '.join(layout.RESERVED_TAG_PREFIXES)} belong to the run "
                                   "layout and cannot be set from a step")
            text = limits.check_text(f"Tag {key!r} value", "" if value is None else str(value))
        except LoggingError as exc:
            return self._refuse(exc)
        with self._lock:
            self._send([{"tag": key, "v": text}], f"tag {key} = {text!r}")

    def upload_file(self, name: str, path_or_stream: str | os.PathLike | IO) -> str:
        """Upload a file (a path or an open stream) as the run's artifact ``name``; returns ``name``."""
        try:
            self._check_artifact(name, "File")
            if name.split("/")[0] == layout.LOGS_DIR:
                raise LoggingError(f"File {name!r}: the artifacts under {layout.LOGS_DIR}/ are the "
                                   "step's logs, written by the runner")
            source = self._source(name, path_or_stream)
        except LoggingError as exc:
            self._refuse(exc)
            return name
        self._ship_file(name, source)
        return name

    def log_image(self, name: str, path: str | os.PathLike | None = None, plot: Any = None,
                  description: str = "") -> None:
        """Log an image: a PNG file (``path``) or a matplotlib figure or ``pyplot`` (``plot``).

        It becomes the artifact ``images/<name>.png``; ``description`` is accepted for Azure ML's
        signature and not stored.
        """
        artifact = layout.image_path(name) if isinstance(name, str) else name
        try:
            self._check_artifact(artifact, "Image", shown=name)
            if (path is None) == (plot is None):
                raise LoggingError(f"Image {name!r}: give exactly one of path= (a PNG file) or plot= "
                                   "(a matplotlib figure)")
            if plot is not None and not callable(getattr(plot, "savefig", None)):
                raise LoggingError(f"Image {name!r}: plot= must have savefig() (a matplotlib "
                                   f"figure or pyplot), got {type(plot).__name__}")
            if path is not None:
                source = self._source(f"images/{name}", path)
                with open(source, "rb") as f:
                    if f.read(8) != _PNG_MAGIC:
                        raise LoggingError(f"Image {name!r}: {str(path)!r} is not a PNG file")
        except LoggingError as exc:
            return self._refuse(exc)
        if plot is not None:
            if self._channel is None:
                return print(f"[offline run {self.id}] image {name} (a plot)")
            self._channel.files.mkdir(exist_ok=True)
            tmp = self._channel.files / f".{uuid.uuid4().hex}.png"
            plot.savefig(tmp, format="png")
            self._ship_file(artifact, tmp, move=True)
        else:
            self._ship_file(artifact, source)

    # --- internals ------------------------------------------------------------------------------
    def _check_name(self, name: str, kind: str = "Metric") -> None:
        if name not in self._names:  # a set lookup: validation costs once per name
            limits.check_key(kind, name)
            self._names.add(name)

    @staticmethod
    def _check_artifact(path: Any, kind: str, shown: Any = None) -> None:
        shown = path if shown is None else shown
        if not isinstance(path, str):
            raise LoggingError(f"{kind} name {shown!r} is a {type(shown).__name__}, not a str")
        try:
            check_artifact_path(path)
        except StepRunError:
            raise LoggingError(f"{kind} name {shown!r} is not a plain relative path (empty, "
                               "absolute, '.' or '..' parts)") from None
        if "\\" in path or len(path) > 1000:
            raise LoggingError(f"{kind} name {shown!r}: no backslashes, at most 1000 characters")

    @staticmethod
    def _source(name: str, source: Any) -> Any:
        if isinstance(source, (str, os.PathLike)):
            if not Path(source).is_file():
                raise LoggingError(f"File {name!r}: {str(source)!r} is not a file")
            return source
        if not callable(getattr(source, "read", None)):
            raise LoggingError(f"File {name!r}: give a path or an open file, got {type(source).__name__}")
        return source

    def _ship_file(self, artifact: str, source: Any, move: bool = False) -> None:
        if self._channel is None:
            return print(f"[offline run {self.id}] file {artifact}")
        try:
            copied = self._channel.add_file(source)
        except OSError as exc:
            raise LoggingError(f"File {artifact!r}: could not be copied for upload ({exc})") from None
        finally:
            if move:
                Path(source).unlink(missing_ok=True)
        with self._lock:
            self._send([{"file": artifact, "src": copied}], "")

    def _description(self, name: str, description: Any) -> str:
        if description in (None, ""):
            return ""
        return limits.check_text(f"Description of {name!r}", description)

    def _describe(self, name: str, description: str, records: list[dict]) -> None:
        if description and self._described.get(name) != description:
            self._described[name] = description
            records.append({"desc": name, "d": description})

    def _take_step(self, name: str, given: int | None) -> int:
        at = self._next_step.get(name, 0) if given is None else given
        self._next_step[name] = max(self._next_step.get(name, 0), at + 1)
        return at

    def _send(self, records: list[dict], text: str) -> None:
        assert self._channel is not None
        self._channel.send(b"".join(map(encode, records)))

    def _refuse(self, exc: LoggingError) -> None:
        raise exc


class OfflineRun(Run):
    """``Run.get_context()`` outside a step: prints what would be logged, never raises."""

    _v1_class = "Run"

    def _send(self, records: list[dict], text: str) -> None:
        print(f"[offline run {self.id}] {text}", flush=True)

    def _refuse(self, exc: LoggingError) -> None:
        print(f"[offline run {self.id}] not logged (in a step this raises LoggingError): {exc}",
              file=sys.stderr, flush=True)


__all__ = ["Run", "OfflineRun"]
