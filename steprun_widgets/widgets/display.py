"""How the widgets display: the live view, plus a static snapshot for where no widget runs.

``_repr_mimebundle_`` carries the widget view and a ``text/html`` snapshot. Displayed in a notebook,
the widget view goes out with an empty ``text/html`` and a second, "companion" output carries the
snapshot: the companion has a display id, so it is kept current as the run goes on, while the
first output is frozen at display time (a snapshot there would show "Queued" for a run that
finished). GitHub, nbviewer and exports without widget state show the companion; an export with
widget state renders the widget view, which needs the widget manager from a CDN, and the
companion where that cannot load.

Which of the two shows in a Jupyter page is the companion's own CSS (``COMPANION_CSS``): it hides
the companion right after a rendered view, and the view's output when ipywidgets has nothing to
show there ("Loading widget...", or "Error displaying widget: model not found" in a notebook
reopened without its kernel or widget state), so the snapshot stands for the run. Elsewhere the
bundle's CSS hides the companions where a live view renders (js/src/theme.css).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from steprun_widgets.widgets import snapshot

STATIC = Path(__file__).parent / "static"

#: In the companion output (a trusted output's styles apply; an untrusted notebook renders no
#: widget view at all). ``.srw-live`` marks a view the loader rendered (js/src/loader.js). The
#: output before the companion is the widget view's: it holds no element while ipywidgets shows
#: only its loading or error text there (its renderer writes them as the node's text).
COMPANION_CSS = (
    "<style>"
    ".jp-OutputArea-child:has(.srw-live)+.jp-OutputArea-child:has(.srw-snapshot-companion)"
    "{display:none}"
    ".jp-OutputArea-child:has(+.jp-OutputArea-child .srw-snapshot-companion)>.jp-OutputArea-output"
    ":not(:has(*)){display:none}"
    "</style>"
)


def asset(name: str) -> str | Path:
    """A frontend file for anywidget: its text, or its path when live reload is on.

    Given a path, anywidget connects every new widget to the file's change signal with a strong
    reference, so no widget could ever be garbage-collected (a closed one neither); the text has
    no such link. ``ANYWIDGET_HMR=1`` (frontend development) keeps the path and its live reload.
    """
    path = STATIC / name
    if os.environ.get("ANYWIDGET_HMR") == "1":
        return path
    return path.read_text(encoding="utf-8")


class SnapshotDisplay:
    """Mixin for the anywidget widgets: ``to_html``, ``save_html`` and the display logic."""

    _snapshot_kind = "step"
    _companion_handle: Any = None
    _snapshot_status: str | None = None

    def snapshot_state(self) -> dict:
        """The synced state the snapshot is made of (no secrets ever are in it)."""
        raise NotImplementedError

    def to_html(self) -> str:
        """A self-contained HTML fragment of the current state: inline CSS, no script."""
        render = snapshot.step_html if self._snapshot_kind == "step" else snapshot.pipeline_html
        return render(self.snapshot_state())

    def save_html(self, path: str | os.PathLike) -> str:
        """Write a standalone HTML page of the current state (atomically); returns the path."""
        target = Path(path)
        page = snapshot.standalone_page(self.to_html(), f"{self._snapshot_kind} run {self.run_id}")
        fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".",
                                   prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(page)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(target)

    def _repr_mimebundle_(self, **kwargs: Any):
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        if data is None:
            return bundle
        data = {**data, "text/html": self.to_html()}
        return (data, metadata) if isinstance(bundle, tuple) else data

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        bundle = self._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        # The snapshot goes in the companion only: this output cannot be updated, so a snapshot here
        # would stay at the display-time state and stand beside (or, by the CSS, instead of) the
        # current one. Empty HTML, not none, so no viewer falls back to the object's repr.
        display({**data, "text/html": ""}, metadata=metadata, raw=True)
        self._companion_handle = display(HTML(self._companion_html()), display_id=True)
        self._snapshot_status = getattr(self, "status", None)

    def _refresh_companion(self, force: bool = False) -> None:
        """Keep the companion snapshot current: on status changes and when the run is final."""
        handle = self._companion_handle
        status = getattr(self, "status", None)
        if handle is None or (not force and status == self._snapshot_status):
            return
        from IPython.display import HTML

        self._snapshot_status = status
        handle.update(HTML(self._companion_html()))

    def _companion_html(self) -> str:
        return COMPANION_CSS + snapshot.companion(self.to_html())
