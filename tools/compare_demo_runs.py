"""Compare two `clusterface demo` output folders: are training and evaluation numerically identical?

    python tools/compare_demo_runs.py runs/demo-quick-A runs/demo-quick-B

For each method folder (arcface, full): the logged training scalars, the newest checkpoint's
tensors (backbone and objective, bit for bit) and the evaluation metrics (timings ignored).
Prints every difference; exits 1 if there is one. Used to check that a refactor keeps behaviour
(run the demo from both revisions with the same ``synth.root`` and OMP_NUM_THREADS).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

TIMING_KEYS = {"seconds", "images_per_s", "data_wait_fraction", "img_per_s", "data_wait", "last_checkpoint"}


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _diffs(path: str, a: Any, b: Any) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _diffs(f"{path}.{k}", a.get(k), b.get(k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _diffs(f"{path}[{i}]", x, y)]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def _tensor_diffs(a: Path, b: Path) -> list[str]:
    sa, sb = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    out = []
    for part in ("backbone", "objective", "momentum_encoder"):
        ta, tb = sa.get(part) or {}, sb.get(part) or {}
        for key in sorted(set(ta) | set(tb)):
            if key not in ta or key not in tb or not torch.equal(ta[key], tb[key]):
                out.append(f"{a.name}: {part}.{key} differs")
    return out


def compare(a: Path, b: Path) -> list[str]:
    """Every difference between the two demo folders, as lines of text."""
    out: list[str] = []
    methods = sorted(p.name for p in a.iterdir() if (p / "metrics.json").is_file())
    for m in methods:
        train_a = json.loads((a / m / "metrics.json").read_text())
        train_b = json.loads((b / m / "metrics.json").read_text())
        out += _diffs(f"{m}/metrics.json", _strip(train_a), _strip(train_b))
        ckpt_a = sorted((a / m / "checkpoints").glob("step-*.pt"))[-1]
        ckpt_b = b / m / "checkpoints" / ckpt_a.name
        out += _tensor_diffs(ckpt_a, ckpt_b) if ckpt_b.is_file() else [f"{m}: {ckpt_b} missing"]
        eval_a = json.loads((a / m / "eval" / "metrics.json").read_text())
        eval_b = json.loads((b / m / "eval" / "metrics.json").read_text())
        out += _diffs(f"{m}/eval/metrics.json", _strip(eval_a), _strip(eval_b))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    found = compare(Path(argv[0]), Path(argv[1]))
    for line in found:
        print(line)
    same = "identical (training scalars, checkpoint tensors, evaluation metrics)"
    print(same if not found else f"{len(found)} differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
