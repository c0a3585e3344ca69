"""Step 2 of the sample pipeline: fit a straight line to the prepared data.

Usage: python train.py DATA_FOLDER MODEL_FOLDER

Reads ``data.csv`` from DATA_FOLDER, fits y = a*x + b by gradient descent (printing the loss as it
goes, so there is a log to watch), and writes ``model.json`` into MODEL_FOLDER.
"""

import csv
import json
import sys
import time
from pathlib import Path


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    with open(data / "data.csv", encoding="utf-8") as f:
        rows = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]
    print(f"train: {len(rows)} rows", flush=True)
    a = b = 0.0
    rate = 0.01
    epochs = 10
    for epoch in range(1, epochs + 1):
        for _ in range(50):
            grad_a = sum(2 * (a * x + b - y) * x for x, y in rows) / len(rows)
            grad_b = sum(2 * (a * x + b - y) for x, y in rows) / len(rows)
            a -= rate * grad_a
            b -= rate * grad_b
        loss = sum((a * x + b - y) ** 2 for x, y in rows) / len(rows)
        print(f"train: epoch {epoch:2d}/{epochs}  loss {loss:9.4f}  a={a:.4f} b={b:.4f}", flush=True)
        time.sleep(0.2)  # a real training step takes a while: watch the log grow
    (out / "model.json").write_text(json.dumps({"a": round(a, 6), "b": round(b, 6)}), encoding="utf-8")
    print(f"train: wrote {out / 'model.json'}", flush=True)


if __name__ == "__main__":
    main()
