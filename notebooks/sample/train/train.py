"""Step 2 of the sample pipeline: fit a straight line to the prepared data.

Usage: python train.py DATA_FOLDER MODEL_FOLDER

Reads ``data.csv`` from DATA_FOLDER, fits y = a*x + b by gradient descent (printing the loss as it
goes, so there is a log to watch, and logging it into the step's run with ``Run.get_context()``,
so there is a curve to watch), and writes ``model.json`` into MODEL_FOLDER.
"""

import csv
import json
import os
import sys
import time
from pathlib import Path

from steprun_widgets import Run


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    with open(data / "data.csv", encoding="utf-8") as f:
        rows = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]
    print(f"train: {len(rows)} rows", flush=True)
    run = Run.get_context()  # this step's run (an offline run that prints, outside a pipeline)
    a = b = 0.0
    rate = 0.01
    run.tag("learning_rate", rate)
    epochs = 10
    # A real training step takes a while: ~20 s, so the widgets show the log and the loss curve
    # growing. STEPRUN_SAMPLE_EPOCH_SECONDS shortens it (the test suite sets it).
    pause = float(os.environ.get("STEPRUN_SAMPLE_EPOCH_SECONDS", "2.0"))
    for epoch in range(1, epochs + 1):
        for _ in range(50):
            grad_a = sum(2 * (a * x + b - y) * x for x, y in rows) / len(rows)
            grad_b = sum(2 * (a * x + b - y) for x, y in rows) / len(rows)
            a -= rate * grad_a
            b -= rate * grad_b
        loss = sum((a * x + b - y) ** 2 for x, y in rows) / len(rows)
        print(f"train: epoch {epoch:2d}/{epochs}  loss {loss:9.4f}  a={a:.4f} b={b:.4f}", flush=True)
        # step=epoch: the chart's x axis counts epochs from 1, as the log line does (without it a
        # value's step is its 0-based index in the series)
        run.log("loss", loss, description="mean squared error after each epoch", step=epoch)
        time.sleep(pause)
    mean_y = sum(y for _, y in rows) / len(rows)
    total = sum((y - mean_y) ** 2 for _, y in rows) or 1.0
    run.log("r2", 1 - loss * len(rows) / total, description="coefficient of determination of the fit")
    (out / "model.json").write_text(json.dumps({"a": round(a, 6), "b": round(b, 6)}), encoding="utf-8")
    print(f"train: wrote {out / 'model.json'}", flush=True)


if __name__ == "__main__":
    main()
