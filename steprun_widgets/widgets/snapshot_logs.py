"""A log tail as HTML for the snapshot: ANSI colours and bold as inline-styled spans, all text escaped.

The SGR sequences (colours, bold, italic, underline) go to ``ansi2html`` in inline mode: spans
with a ``style`` attribute, so no stylesheet is needed. What ansi2html does not handle the way a
snapshot must is taken out first, the way the live log view does it (js/src/ansi.js): OSC
sequences (titles, and hyperlinks, which ansi2html would turn into ``<a href>`` made of server
text), every CSI sequence other than SGR (cursor moves, erase, ``ESC[?25l``, which it leaves in
the text), other two-byte escapes and C0 controls; a carriage return keeps only what was written
after it, as a terminal shows a progress bar. The text is escaped with ``html.escape`` before
ansi2html sees it (its own escaping leaves quotes), and SGR sequences hold no character it
changes, so the text is inert and only ansi2html's spans are markup.
"""

from __future__ import annotations

import html
import re
import threading

from ansi2html import Ansi2HTMLConverter

#: How much of each log a snapshot shows: the last lines, within a byte budget (the saved
#: notebook keeps the snapshot; the live view has the whole log).
SNAPSHOT_LOG_LINES = 200
SNAPSHOT_LOG_CHARS = 40_000

_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_NON_SGR_CSI = re.compile(r"\x1b\[(?![0-9;]*m)[0-?]*[ -/]*(?:[@-~]|$)")
_OTHER_ESC = re.compile(r"\x1b[()*+#%][ -~]|\x1b[0-Z\\-_]")
#: An ESC left that does not start a whole SGR sequence (one cut off at the end of a tail).
_STRAY_ESC = re.compile(r"\x1b(?!\[[0-9;]*m)")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")
_ANY_ESC = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?")

# ansi2html keeps state per call only, but its truecolor styles live in a module-level table.
_convert_lock = threading.Lock()
_converter = Ansi2HTMLConverter(inline=True, dark_bg=False, line_wrap=True, escaped=False)


def sgr_only(text: str) -> str:
    """``text`` with every escape other than SGR, and control characters, removed; each line
    reduced to what follows its last carriage return."""
    text = _OTHER_ESC.sub("", _NON_SGR_CSI.sub("", _OSC.sub("", text)))
    text = _CONTROLS.sub("", _STRAY_ESC.sub("", text))
    return "\n".join(_after_cr(line) for line in text.split("\n"))


def _after_cr(line: str) -> str:
    line = line.removesuffix("\r")
    if "\r" not in line:
        return line
    return next((p for p in reversed(line.split("\r")) if _ANY_ESC.sub("", p)), "")


def plain(text: str) -> str:
    """The text without any escape sequence (for words, not markup)."""
    return _CONTROLS.sub("", _ANY_ESC.sub("", text))


def ansi_html(text: str) -> str:
    """ANSI text as escaped HTML with inline-styled spans; no other markup."""
    with _convert_lock:
        return _converter.convert(html.escape(sgr_only(text), quote=True), full=False)


def tail_lines(text: str, lines: int = SNAPSHOT_LOG_LINES, chars: int = SNAPSHOT_LOG_CHARS
               ) -> tuple[str, int, int]:
    """The last ``lines`` lines of ``text`` within ``chars`` characters: (shown, shown count,
    total count)."""
    all_lines = text.split("\n")
    if all_lines and all_lines[-1] == "":
        all_lines.pop()
    shown = all_lines[-lines:] if lines else []
    size = sum(len(s) + 1 for s in shown)
    while len(shown) > 1 and size > chars:
        size -= len(shown[0]) + 1
        shown = shown[1:]
    if shown and len(shown[0]) > chars:  # one huge line: its end
        shown[0] = shown[0][-chars:]
    return "\n".join(shown), len(shown), len(all_lines)
