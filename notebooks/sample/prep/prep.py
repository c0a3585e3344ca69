"""Step 1 of the sample pipeline: make a small, reproducible data set.

Usage: python prep.py OUTPUT_FOLDER [N_ROWS]

Writes ``data.csv`` (columns x, y with y = 3x + 2 + noise) into OUTPUT_FOLDER.
"""

import csv
import random
import sys
from pathlib import Path


def main() -> None:
    out = Path(sys.argv[1])
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    rng = random.Random(42)
    print(f"prep: generating {rows} rows of y = 3x + 2 + noise", flush=True)
    with open(out / "data.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["x", "y"])
        for _ in range(rows):
            x = rng.uniform(-10, 10)
            writer.writerow([f"{x:.6f}", f"{3 * x + 2 + rng.gauss(0, 1):.6f}"])
    print(f"prep: wrote {out / 'data.csv'}", flush=True)


if __name__ == "__main__":
    main()
