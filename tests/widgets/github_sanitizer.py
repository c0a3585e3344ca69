"""A GitHub-like HTML sanitiser (nh3), to check that a snapshot stays readable where styles go.

GitHub does not publish the allow-list its notebook renderer uses. The closest documented one
is html-pipeline's (the library GitHub started and whose filter github/markup's README points
to): ``HTMLPipeline::SanitizationFilter::DEFAULT_CONFIG`` of html-pipeline 3, which runs on
Selma, whose default config removes the *contents* of iframe, math, noembed, noframes, noscript,
plaintext, script, style, svg and xmp. The lists below are those, as nh3 options. So: no
``<style>``, no ``style``/``class`` attributes, no ``<svg>`` (nor its text), only the basic tags.
"""

from __future__ import annotations

from html.parser import HTMLParser

import nh3

ELEMENTS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "br", "b", "i", "strong", "em", "a", "pre", "code", "img", "tt",
    "div", "ins", "del", "sup", "sub", "p", "ol", "ul", "table", "thead", "tbody", "tfoot", "blockquote",
    "dl", "dt", "dd", "kbd", "q", "samp", "var", "hr", "ruby", "rt", "rp", "li", "tr", "td", "th", "s",
    "strike", "summary", "details", "caption", "figure", "figcaption", "abbr", "bdo", "cite", "dfn",
    "mark", "small", "span", "time", "wbr",
}
ALL_ATTRIBUTES = {
    "abbr", "accept", "accept-charset", "accesskey", "action", "align", "alt", "aria-describedby",
    "aria-hidden", "aria-label", "aria-labelledby", "axis", "border", "cellpadding", "cellspacing", "char",
    "charoff", "charset", "checked", "clear", "cols", "colspan", "color", "compact", "coords", "datetime",
    "dir", "disabled", "enctype", "for", "frame", "headers", "height", "hreflang", "hspace", "id", "ismap",
    "label", "lang", "maxlength", "media", "method", "multiple", "name", "nohref", "noshade", "nowrap",
    "open", "progress", "prompt", "readonly", "rel", "rev", "role", "rows", "rowspan", "rules", "scope",
    "selected", "shape", "size", "span", "start", "summary", "tabindex", "title", "type", "usemap", "valign",
    "value", "width", "itemprop",
}
ATTRIBUTES = {
    "*": ALL_ATTRIBUTES,
    "a": {"href"}, "img": {"src", "longdesc"}, "div": {"itemscope", "itemtype"}, "blockquote": {"cite"},
    "del": {"cite"}, "ins": {"cite"}, "q": {"cite"},
}
REMOVE_CONTENTS = {"iframe", "math", "noembed", "noframes", "noscript", "plaintext", "script", "style",
                   "svg", "xmp"}


def sanitize(html: str) -> str:
    """``html`` as a GitHub-like renderer would keep it."""
    return nh3.clean(html, tags=ELEMENTS, clean_content_tags=REMOVE_CONTENTS, attributes=ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel=None)


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> list[list[list[str]]]:
    """Every table of ``html`` as rows of cell texts (whitespace collapsed)."""
    parser = _Rows()
    parser.feed(html)
    return parser.tables


def text(html: str) -> str:
    """The text of ``html``, whitespace collapsed (what a reader sees, in document order)."""
    parts: list[str] = []
    parser = HTMLParser()
    parser.handle_data = parts.append  # type: ignore[method-assign]
    parser.feed(html)
    return " ".join("".join(parts).split())
