"""Step 3 of the sample pipeline: score the model on the data.

Usage: python evaluate.py DATA_FOLDER MODEL_FOLDER METRICS_FOLDER

Writes ``metrics.json`` (mean squared error, R², the fitted line) into METRICS_FOLDER.
"""

import csv
import json
import sys
from pathlib import Path


def main() -> None:
    data, model_dir, out = (Path(p) for p in sys.argv[1:4])
    model = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    with open(data / "data.csv", encoding="utf-8") as f:
        rows = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]
    a, b = model["a"], model["b"]
    mse = sum((a * x + b - y) ** 2 for x, y in rows) / len(rows)
    mean_y = sum(y for _, y in rows) / len(rows)
    variance = sum((y - mean_y) ** 2 for _, y in rows) / len(rows)
    metrics = {"mse": round(mse, 6), "r2": round(1 - mse / variance, 6), "a": a, "b": b, "rows": len(rows)}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    print(f"evaluate: y ≈ {a:.3f}·x + {b:.3f}   mse {mse:.4f}   r² {metrics['r2']:.4f}", flush=True)
    if metrics["r2"] < 0.9:
        print("evaluate: the fit is poor", file=sys.stderr)


if __name__ == "__main__":
    main()
