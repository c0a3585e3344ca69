"""Reading what a step logged straight from the tracking server's REST API (not through our reader)."""

from __future__ import annotations

import math

from steprun_widgets.core.transport import API


def history(workspace, run_id: str, key: str) -> list[tuple[int, float, int]]:
    """Every (step, value, timestamp) of one metric, as MLflow returns it (all pages)."""
    points: list[tuple[int, float, int]] = []
    token = None
    while True:
        params = {"run_id": run_id, "metric_key": key, "max_results": 25000}
        if token:
            params["page_token"] = token
        body = workspace.rest.transport.get_json(f"{API}/metrics/get-history", params)
        points += [(int(m.get("step", 0)), _float(m["value"]), int(m["timestamp"]))
                   for m in body.get("metrics", [])]
        token = body.get("next_page_token")
        if not token:
            return sorted(points, key=lambda p: (p[0], p[2]))


def latest(workspace, run_id: str) -> dict[str, tuple[int, float]]:
    """The run's latest value of every metric (runs/get), as {key: (step, value)}."""
    body = workspace.rest.transport.get_json(f"{API}/runs/get", {"run_id": run_id})
    return {m["key"]: (int(m.get("step", 0)), _float(m["value"]))
            for m in body["run"]["data"].get("metrics", [])}


def _float(value) -> float:
    return float(value) if not isinstance(value, str) else {"NaN": math.nan, "Infinity": math.inf,
                                                           "-Infinity": -math.inf}[value]
