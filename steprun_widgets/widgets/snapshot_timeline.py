"""The timeline of a snapshot: one small SVG bar per step on a shared time axis.

As in the live widget (js/src/timeline.js): a light bar from queued to start, a bar in the status
colour from start to end; a step still going is drawn up to the moment of the snapshot. The bars
sit in a column of the snapshot's step table, beside the same times in words, so a renderer that
drops SVG loses only the picture.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from steprun_widgets.widgets.snapshot_parts import MUTED, QUEUED_BAR, elapsed, esc, look

BAR_W, BAR_H = 200, 14
_TICKS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_TICKS = 4  # the live axis has 6 over a wider track; 4 labels fit this bar's width
TERMINAL = frozenset({"Finished", "Failed", "Canceled"})


def _time(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value else None


@dataclass(frozen=True)
class TimeRange:
    """The axis, in ms since the epoch."""

    t0: float
    t1: float

    @property
    def span(self) -> float:
        return self.t1 - self.t0

    def x(self, t: float) -> float:
        return (t - self.t0) / self.span * BAR_W


def _live(step: Mapping) -> bool:
    return str(step.get("status")) not in TERMINAL and _time(step.get("end_time")) is None


def time_range(steps: Iterable[Mapping], now_ms: float, pipeline: Mapping | None = None) -> TimeRange | None:
    """From the earliest queued/start time to the latest end (``now_ms`` while a step goes on);
    None when no step has a time yet."""
    times: list[float] = []
    open_ = False
    for step in steps:
        times += [t for t in (_time(step.get(k)) for k in ("queued_time", "start_time", "end_time")) if t]
        started = _time(step.get("queued_time")) or _time(step.get("start_time"))
        open_ = open_ or (_live(step) and started is not None)
    if not times:
        return None
    times += [t for t in (_time((pipeline or {}).get(k)) for k in ("start_time", "end_time")) if t]
    t0, t1 = min(times), max(times)
    if open_:
        t1 = max(t1, now_ms)
    return TimeRange(t0, max(t1, t0 + 1000))


def axis_ticks(span_ms: float) -> list[float]:
    """Offsets (ms) of the axis labels: a round step giving at most MAX_TICKS of them."""
    step = next((s * 1000 for s in _TICKS_S if span_ms / (s * 1000) <= MAX_TICKS), None)
    if step is None:
        step = -(-span_ms // MAX_TICKS // 86_400_000) * 86_400_000
    return [i * step for i in range(int(span_ms // step) + 1)]


def step_bars(step: Mapping, now_ms: float) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """The (queued, run) bars of a step as (start, end) ms, None where there is none."""
    live = _live(step)
    q, s, e = (_time(step.get(k)) for k in ("queued_time", "start_time", "end_time"))
    queued = None
    if q is not None:
        q_end = s or e or (now_ms if live else None)
        if q_end is not None and q_end >= q:
            queued = (q, q_end)
    run = None
    if s is not None:
        run = (s, max(s, e or (now_ms if live else s)))
    return queued, run


def offset_text(ms: float) -> str:
    """An offset on the axis: "20s", "1m", "1m 05s", "2h 03m"."""
    seconds = int(ms // 1000)
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    return f"{minutes}m {sec:02d}s" if sec else f"{minutes}m"


def axis_svg(rng: TimeRange) -> str:
    """The axis labels over the bar column."""
    labels = []
    for t in axis_ticks(rng.span):
        x = rng.x(rng.t0 + t)
        anchor = "start" if t == 0 else ("end" if x > BAR_W - 20 else "middle")
        labels.append(f'<text x="{x:.1f}" y="11" text-anchor="{anchor}">{offset_text(t)}</text>')
    return (f'<svg class="srw-svg" xmlns="http://www.w3.org/2000/svg" width="{BAR_W}" height="{BAR_H}" '
            f'viewBox="0 0 {BAR_W} {BAR_H}" aria-hidden="true" font-size="10" fill="{MUTED}">'
            f'{"".join(labels)}</svg>')


def bar_svg(step: Mapping, rng: TimeRange, now_ms: float) -> str:
    """One step's bars; its ``<title>`` says the same in words."""
    queued, run = step_bars(step, now_ms)
    colour, _ = look(str(step.get("status") or "NotStarted"))
    parts, words = [], []

    def rect(span: tuple[float, float], fill: str, y: float, h: float) -> str:
        x0, x1 = rng.x(span[0]), rng.x(span[1])
        return (f'<rect x="{x0:.1f}" y="{y}" width="{max(1.5, x1 - x0):.1f}" height="{h}" rx="2" '
                f'fill="{fill}"/>')

    if queued:
        parts.append(rect(queued, QUEUED_BAR, 4, 6))
        words.append(f"queued {elapsed((queued[1] - queued[0]) / 1000)}")
    if run:
        parts.append(rect(run, colour, 1, 12))
        words.append(f"ran {elapsed((run[1] - run[0]) / 1000)} from +{offset_text(run[0] - rng.t0)}")
    return (f'<svg class="srw-svg" xmlns="http://www.w3.org/2000/svg" width="{BAR_W}" height="{BAR_H}" '
            f'viewBox="0 0 {BAR_W} {BAR_H}" role="img" aria-label="{esc(", ".join(words) or "not run")}">'
            f'<rect width="{BAR_W}" height="{BAR_H}" fill="#f6f8fa"/>{"".join(parts)}</svg>')
