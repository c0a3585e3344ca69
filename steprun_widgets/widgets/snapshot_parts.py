"""Small pieces every static snapshot uses: escaping, the status look, sizes and durations.

Everything from the server goes through :func:`esc`; the status look is the live widget's
(js/src/status.js): an icon and the status word beside every colour, so a snapshot whose styles
were stripped still says what happened.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

SUCCESS, ERROR, WARN, BRAND, MUTED = "#1a7f37", "#cf222e", "#9a6700", "#0969da", "#59636e"
FG, BORDER, BG_ALT, QUEUED_BAR = "#1f2328", "#d0d7de", "#f6f8fa", "#d0d7de"

#: Status word -> (colour, icon), as the live widget shows them.
STATUS_LOOK: dict[str, tuple[str, str]] = {
    "NotStarted": (MUTED, "○"), "Queued": (BRAND, "◔"), "Running": (BRAND, "⟳"),
    "Finished": (SUCCESS, "✔"), "Failed": (ERROR, "✖"), "Canceled": (MUTED, "⊘"),
    "NotResponding": (WARN, "⚠"),
}
#: The order of the per-status counts (the live widget's summary line).
SUMMARY_ORDER = ("Finished", "Running", "Queued", "Failed", "NotResponding", "Canceled", "NotStarted")


def esc(value: object) -> str:
    """Server text as inert HTML text (quotes too, so it is safe in an attribute)."""
    return html.escape(str(value), quote=True)


def look(status: str) -> tuple[str, str]:
    """(colour, icon) of a status word; a word the protocol does not name gets "?"."""
    return STATUS_LOOK.get(status, (MUTED, "?"))


def badge(status: str) -> str:
    """The status as icon + word in its colour (the colour is the only thing a sanitiser drops)."""
    colour, icon = look(status)
    return f'<span class="srw-badge" style="color:{colour}">{icon} {esc(status or "Unknown")}</span>'


def human_size(size: int | None) -> str:
    """Bytes for people: "2.0 KiB"; "–" when unknown."""
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def elapsed(seconds: float) -> str:
    """A duration: "2.1 s", "3m 05s", "1h 02m 03s"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {sec:02d}s" if hours else f"{minutes}m {sec:02d}s"


def duration(start_ms: float | None, end_ms: float | None) -> str:
    """How long a run took ("" while it has no start or no end)."""
    if not start_ms or not end_ms:
        return ""
    return elapsed((end_ms - start_ms) / 1000)


def when(ms: float | None) -> str:
    """A time as UTC text ("" when unknown)."""
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
