"""The frontend code a widget's model holds: the whole bundle once per bundle, a small loader else.

anywidget keeps each model's ``_esm`` and ``_css`` in the widget state a saved notebook stores,
so one copy of the ~100 kB bundle per widget made saved notebooks grow with every widget shown.
Here one living widget per bundle, the *carrier*, holds the code (inside the loader,
``js/src/loader.js``); every other widget holds only the loader, which takes the code the
carrier put on the page, or asks its own kernel for it once per page (``reply``). The reasoning
and the options weighed are in docs/saved-notebooks.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from steprun_widgets.widgets.display import STATIC

#: The message type of a loader's request and of the kernel's reply (js/src/loader.js).
MESSAGE = "srw-frontend"
_PLACEHOLDER = "__SRW_FRONTEND__"


@dataclass(frozen=True)
class Bundle:
    """One built frontend bundle (``static/<name>.js`` and ``.css``) and its loaders."""

    name: str

    @cached_property
    def js(self) -> str:
        return (STATIC / f"{self.name}.js").read_text(encoding="utf-8")

    @cached_property
    def css(self) -> str:
        return (STATIC / f"{self.name}.css").read_text(encoding="utf-8")

    @cached_property
    def hash(self) -> str:
        """Names this build of the code: a page shares code only between widgets of one build."""
        return hashlib.sha256(f"{self.js}\0{self.css}".encode()).hexdigest()[:16]

    def loader(self, carry: bool) -> str:
        """The ``_esm`` text: the loader, with the code inline when ``carry``."""
        spec = {"name": self.name, "hash": self.hash,
                "js": self.js if carry else None, "css": self.css if carry else None}
        # "</" escaped: the text may end up inside a <script> of an HTML export.
        return _loader_text().replace(_PLACEHOLDER, json.dumps(spec).replace("</", "<\\/"), 1)

    def reply(self) -> dict:
        """The kernel's answer to a loader that found no code on its page."""
        return {"type": MESSAGE, "hash": self.hash, "js": self.js, "css": self.css}


def _loader_text() -> str:
    text = (STATIC / "loader.js").read_text(encoding="utf-8")
    if _PLACEHOLDER not in text:
        raise RuntimeError(f"{STATIC / 'loader.js'} has no {_PLACEHOLDER}: rebuild js/ (npm run build)")
    return text


_carriers: dict[str, weakref.ref] = {}
_carriers_lock = threading.Lock()


def esm_for(widget: Any, bundle: Bundle) -> str:
    """The ``_esm`` for a new widget: the code inline if no living widget carries it yet.

    A closed widget's model is gone from the page and from saved state, so the next new widget
    carries the code again.
    """
    with _carriers_lock:
        ref = _carriers.get(bundle.name)
        carrier = ref() if ref is not None else None
        carry = carrier is None or getattr(carrier, "comm", None) is None
        if carry:
            _carriers[bundle.name] = weakref.ref(widget)
    return bundle.loader(carry)


def hot_reload() -> bool:
    """``ANYWIDGET_HMR=1`` (frontend development): models get the bundle files' paths instead."""
    return os.environ.get("ANYWIDGET_HMR") == "1"
