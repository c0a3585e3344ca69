"""Colour contrast of rendered text, measured in the page (WCAG's ratio: 4.5 reads as body text)."""

from __future__ import annotations

#: ``(selector) => [{text, ratio, color, background}]`` for every element the selector finds that
#: shows text: its colour against the first opaque background up its ancestors (the page's white
#: when none is).
CONTRAST_JS = """
(selector) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(selector)]
    .filter((e) => e.getClientRects().length && (e.innerText || '').trim())
    .map((e) => {
      const fg = rgb(getComputedStyle(e).color).slice(0, 3);
      const bg = background(e);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      return { text: e.innerText.trim().slice(0, 40), ratio: (hi + 0.05) / (lo + 0.05),
               color: fg.join(','), background: bg.join(',') };
    });
}
"""


def low_contrast(page, selector: str, minimum: float = 4.5) -> list[dict]:
    """The elements matching ``selector`` whose text contrast is below ``minimum``."""
    return [r for r in page.evaluate(CONTRAST_JS, selector) if r["ratio"] < minimum]
