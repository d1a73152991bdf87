"""A run's periodic verification as a learning curve, and the epoch budget it implies.

    .venv/bin/python benchmarks/learning_curve.py runs/budget/arcface_e10 --json results/budget/arcface_sf600.json \
        --run-command "clusterface train ..."

Reads the run's ``metrics.json`` (evaluations) — or, while the run is still going, its log's
``eval step ... epoch ...: accuracy=...`` lines (``--log``) — and applies the study's rule: the
budget is the first epoch E such that validation accuracy changes by less than ``--tolerance``
(0.3 pt) over the last 20 % of a run of E epochs, i.e. max - min of the accuracies at epochs
[0.8 E, E] (a curve point every epoch). The rule is applied to the curve of this one run, whose
cosine learning rate decays over its own length: see the JSON's ``caveat``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import sys
from pathlib import Path

EVAL_LINE = re.compile(r"^eval step (\d+) epoch ([\d.]+): (.*)$")


def curve_from_log(path: Path) -> list[dict[str, float]]:
    out = []
    for line in path.read_text().splitlines():
        m = EVAL_LINE.match(line.strip())
        if m:
            values = dict(kv.split("=", 1) for kv in m.group(3).split())
            out.append(
                {
                    "step": int(m.group(1)),
                    "epoch": float(m.group(2)),
                    "accuracy": float(values["accuracy"]),
                    "accuracy_std": float(values["accuracy_std"]),
                    "val_at_far": float(values["val_at_far"]),
                }
            )
    return out


def budget(curve: list[dict[str, float]], tolerance_pt: float) -> int | None:
    """First epoch E (of the curve) whose last 20 % of epochs vary by < tolerance (accuracy points)."""
    by_epoch = {round(p["epoch"]): 100 * p["accuracy"] for p in curve}
    for e in sorted(by_epoch):
        window = [by_epoch[k] for k in by_epoch if math.ceil(0.8 * e) <= k <= e]
        if e >= 5 and len(window) >= 2 and max(window) - min(window) < tolerance_pt:
            return e
    return None


def whole_run_change(curve: list[dict[str, float]]) -> float | None:
    """max - min of val accuracy (points) over the last 20 % of the run's epochs."""
    if not curve:
        return None
    by_epoch = {round(p["epoch"]): 100 * p["accuracy"] for p in curve}
    last = max(by_epoch)
    window = [v for k, v in by_epoch.items() if k >= math.ceil(0.8 * last)]
    return round(max(window) - min(window), 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--log", type=Path, default=None)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--tolerance", type=float, default=0.3)
    parser.add_argument("--run-command", default="")
    parser.add_argument("--minutes-per-epoch", type=float, default=None)
    args = parser.parse_args(argv)
    metrics = args.run / "metrics.json"
    if args.log is not None:
        curve = curve_from_log(args.log)
    else:
        curve = [
            {"step": e["step"], "epoch": e["epoch"], **{k: e[k] for k in ("accuracy", "accuracy_std", "val_at_far")}}
            for e in json.loads(metrics.read_text())["evaluations"]
        ]
    out = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "run_command": args.run_command,
        "rule": f"first epoch E >= 5 with max-min of val accuracy over epochs [0.8E, E] < {args.tolerance} pt",
        "curve": curve,
        # within this run's curve (the rule as the issue words it, applied to prefixes of one run)
        "budget_epochs": budget(curve, args.tolerance),
        # the rule applied to the whole run: does a run of this length pass it?
        "whole_run_change_pt": whole_run_change(curve),
        "minutes_per_epoch": args.minutes_per_epoch,
        "caveat": "one run with a cosine schedule over its own length: its late epochs flatten because the learning "
        "rate goes to 0, so the rule on one curve is optimistic; compare the final accuracy of shorter runs",
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
