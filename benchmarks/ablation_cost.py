"""Cost per ablation cell from the study's records: wall and CPU minutes per row, and the ratio to ArcFace.

    python benchmarks/ablation_cost.py [results/ablation]

Each cell record (results/ablation/<dataset>/<row>/seed<k>.json) holds the wall time of its training
and evaluation and the CPU time of the process that ran it (with its loader workers). Cells that
were resumed are left out (their record holds only the last part). The ratio to the ArcFace row is
taken per seed (same data, same steps, run back to back in one study) and averaged.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "results/ablation")
    cost: dict[tuple[str, str], dict[int, dict[str, float]]] = defaultdict(dict)
    for path in sorted(root.glob("*/*/seed*.json")):
        rec = json.loads(path.read_text())
        c = rec.get("cost", {})
        if c.get("steps_run") != rec.get("steps"):
            continue
        cost[(rec["dataset"], rec["row"])][int(rec["seed"])] = {
            "wall": (c["train_wall_s"] + c["eval_wall_s"]) / 60,
            "train": c["train_wall_s"] / 60,
            "eval": c["eval_wall_s"] / 60,
            "cpu": c["cpu_s"] / 60,
        }
    print("| dataset | row | cells | wall min (train + eval) | CPU-min | CPU / ArcFace (same seed) |")
    print("|---|---|---|---|---|---|")
    for (ds, row), seeds in sorted(cost.items()):
        base = next((v for (d, r), v in cost.items() if d == ds and "arcface" in r), {})
        ratios = [seeds[s]["cpu"] / base[s]["cpu"] for s in seeds if s in base and base[s]["cpu"] > 0]
        wall = np.mean([v["wall"] for v in seeds.values()])
        train = np.mean([v["train"] for v in seeds.values()])
        ev = np.mean([v["eval"] for v in seeds.values()])
        cpu = np.mean([v["cpu"] for v in seeds.values()])
        ratio = f"{np.mean(ratios):.2f}" if ratios else "n/a"
        print(f"| {ds} | {row} | {len(seeds)} | {wall:.1f} ({train:.1f} + {ev:.1f}) | {cpu:.2f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
