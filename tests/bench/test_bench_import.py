"""Benchmark: ``import steprun_widgets`` in a fresh interpreter, beside ``import mlflow``.

Each import runs in its own new Python process (7 runs each, interleaved so that machine noise hits
both alike); the time is measured inside the process around the import statement alone, so the
interpreter's own start-up is not counted. The bar (median <= 0.3 s) is printed, not
asserted: wall-clock time is never asserted. What is asserted: mlflow is not imported.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

import pytest

from tests.bench.report import publish, table

RUNS = 7
BAR_SECONDS = 0.3
PROBE = """
import json, sys, time
t0 = time.perf_counter()
import {module}
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed,
                  "mlflow": sorted(m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")),
                  "modules": len(sys.modules)}}))
"""


def _measure(module: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], capture_output=True,
                         text=True, check=True, timeout=300).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.bench
def test_bench_import():
    results: dict[str, list[dict]] = {"steprun_widgets": [], "mlflow": []}
    for _ in range(RUNS):
        for module in results:
            results[module].append(_measure(module))

    for probe in results["steprun_widgets"]:
        assert probe["mlflow"] == [], probe["mlflow"]

    medians = {m: statistics.median(p["seconds"] for p in r) for m, r in results.items()}
    rows = []
    for module, probes in results.items():
        seconds = [p["seconds"] for p in probes]
        rows.append([f"import {module}", f"{medians[module]:.3f}", f"{min(seconds):.3f}",
                     f"{max(seconds):.3f}", probes[0]["modules"],
                     f"{medians[module] / medians['mlflow']:.3f}"])
    sw = medians["steprun_widgets"]
    text = "\n".join([
        f"Import time in a fresh interpreter ({RUNS} runs each, Python {sys.version.split()[0]})",
        table(["statement", "median s", "min s", "max s", "modules loaded", "ratio to mlflow"], rows),
        f"steprun_widgets is {medians['mlflow'] / sw:.1f}x faster to import than mlflow; "
        f"mlflow modules loaded by import steprun_widgets: 0",
        f"bar: median <= {BAR_SECONDS} s -> {'met' if sw <= BAR_SECONDS else 'NOT met'} ({sw:.3f} s)",
    ])
    publish("import", text)
