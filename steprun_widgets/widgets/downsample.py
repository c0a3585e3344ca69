"""Shape-keeping downsampling of metric series: LTTB for the saved trait, min/max buckets for the
kernel's live history. Both keep the first and the last point; non-finite values are never
averaged away (a bucket that holds one keeps it, so a NaN spike stays visible).

Written by hand (a few lines each) rather than pulling numpy into the widget's import path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[int, float, int]


def lttb(points: Sequence[Point], limit: int) -> list[Point]:
    """Largest-Triangle-Three-Buckets (Steinarsson 2013) down to at most ``limit`` points."""
    n = len(points)
    if n <= limit or limit < 3:
        return list(points) if n <= limit else [points[0], points[-1]][:max(limit, 1)]
    out = [points[0]]
    every = (n - 2) / (limit - 2)
    previous = points[0]
    for i in range(limit - 2):
        start = int(i * every) + 1
        end = min(int((i + 1) * every) + 1, n - 1)
        nxt_end = min(int((i + 2) * every) + 1, n)
        following = [p for p in points[end:nxt_end] if math.isfinite(p[1])] or [points[-1]]
        avg_x = sum(p[0] for p in following) / len(following)
        avg_y = sum(p[1] for p in following) / len(following) if math.isfinite(following[0][1]) else 0.0
        best, best_area = points[start], -1.0
        for p in points[start:end]:
            if not math.isfinite(p[1]):
                best = p  # keep a non-finite value: it is what a reader must see
                break
            py = previous[1] if math.isfinite(previous[1]) else p[1]
            area = abs((previous[0] - avg_x) * (p[1] - py) - (previous[0] - p[0]) * (avg_y - py))
            if area > best_area:
                best, best_area = p, area
        out.append(best)
        previous = best
    out.append(points[-1])
    return out


def minmax(points: Sequence[Point], limit: int) -> list[Point]:
    """Min/max buckets: per bucket its lowest and highest value (in step order), first and last
    point kept; at most ``limit`` points."""
    n = len(points)
    if n <= limit:
        return list(points)
    buckets = max(1, (limit - 2) // 2)
    every = (n - 2) / buckets
    out = [points[0]]
    for i in range(buckets):
        chunk = points[int(i * every) + 1:int((i + 1) * every) + 1]
        if not chunk:
            continue
        odd = [p for p in chunk if not math.isfinite(p[1])]
        finite = [p for p in chunk if math.isfinite(p[1])]
        picks = odd[:1] + ([min(finite, key=lambda p: p[1]), max(finite, key=lambda p: p[1])]
                           if finite else [])
        picks = sorted(set(picks[:2]), key=lambda p: (p[0], p[2]))
        out.extend(picks)
    out.append(points[-1])
    return out
