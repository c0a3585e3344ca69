"""Widget states for the snapshot's unit tests and benchmark, shaped like the synced traits.

A pipeline of ``n`` steps in layers of fan-out and fan-in (a long edge from the first step to the
last too), every status, reused steps, an error, metrics: what the kernel would send for a run
like that, without running one (the real-run tests are in test_snapshot_and_details.py).
"""

from __future__ import annotations

STATUSES = ("Finished", "Finished", "Finished", "Failed", "Running", "Queued", "NotStarted", "Canceled")
T0 = 1_767_000_000_000.0


def pipeline_state(n: int = 50, width: int = 4, hostile: str = "") -> dict:
    """A pipeline of ``n`` steps, ``width`` per layer, each layer fed by the one before it."""
    nodes, edges, steps, rows = [], [], [], []
    for i in range(n):
        node_id = f"n{i:03d}"
        name = f"{hostile}step-{i:03d}-{'prepare' if i % 3 else 'train-the-model'}"
        nodes.append({"id": node_id, "name": name})
        layer, slot = divmod(i, width)
        if layer:
            edges.append([f"n{(layer - 1) * width + slot % width:03d}", node_id])
            if slot == 0:
                edges.append([f"n{(layer - 1) * width + width - 1:03d}", node_id])
        status = STATUSES[i % len(STATUSES)]
        start = T0 + layer * 20_000 + slot * 1500
        started = status not in ("Queued", "NotStarted")
        steps.append({
            "node_id": node_id, "run_id": f"{i:032x}", "name": name, "status": status,
            "queued_time": start - 3000, "start_time": start if started else None,
            "end_time": start + 12_000 if status in ("Finished", "Failed", "Canceled") else None,
            "reused": i % 5 == 1, "reused_run_id": f"{i + 1000:032x}" if i % 5 == 1 else "",
            "error": f"exit code 1: {hostile}ValueError: bad input" if status == "Failed" else "",
        })
        rows.append({"node_id": node_id, "run_id": f"{i:032x}",
                     "values": {"loss": 0.5 / (i + 1), "acc": 0.9}})
    if n > 2:
        edges.append(["n000", f"n{n - 1:03d}"])
    return {
        "run_id": "f" * 32, "name": f"{hostile}pipeline", "status": "Running", "start_time": T0 - 5000,
        "end_time": None, "error": "", "graph": {"nodes": nodes, "edges": edges}, "steps": steps,
        "metrics_table": {"names": ["acc", "loss"], "rows": rows},
    }


def step_state(hostile: str = "", lines: int = 300) -> dict:
    """A finished step with coloured stdout, an error line and outputs."""
    stdout = "".join(f"\x1b[32mline {i}\x1b[0m {hostile}\x1b[1mbold\x1b[0m\n" for i in range(lines))
    return {
        "run_id": "a" * 32, "name": f"{hostile}train", "status": "Failed", "start_time": T0,
        "end_time": T0 + 65_000, "error": f"exit code 1: {hostile}", "reuse": {},
        "outputs": [{"name": "model", "size": 2048, "file_count": 1, "is_dir": False}],
        "params": {"lr": "0.1"}, "images": [],
        "logs": {"stdout": {"tail": stdout, "first_line": 0}, "stderr": {"tail": "", "first_line": 0}},
        "metrics": {"loss": {"points": [[i, 1 / (i + 1), T0] for i in range(20)], "count": 20}},
    }
