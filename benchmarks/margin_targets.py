"""Whether the cluster-guided margins reach the identities the method targets, from the study's records.

    .venv/bin/python benchmarks/margin_targets.py results/ablation_e10 --json results/method/margin_targets_e10.json

For every cell record with per-class memory arrays (rows with the cluster-guided margin), joined to
the SynthFaces manifest of its training set (``images.csv``: image count and the generator's true
per-identity difficulty, which no model sees): Spearman correlations of the final margin m_k and
concentration φ_k with the true difficulty and with the class's image count, the mean margin of
small (≤ 5 images) and large (≥ 20) classes, and the share of classes at the clip bounds. A margin
that follows image count more than difficulty is aiming at class size, not at hard identities.
No training; reads only the records and the manifests (regenerate the data with the cell's
command if ``data/`` is gone).
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats


def train_classes(images_csv: Path) -> tuple[np.ndarray, np.ndarray]:
    """(image count, true difficulty) per training class, classes in sorted folder order (the labels)."""
    counts: dict[str, int] = defaultdict(int)
    difficulty: dict[str, float] = {}
    with images_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["split"] == "train":
                folder = row["path"].split("/")[1]
                counts[folder] += 1
                difficulty.setdefault(folder, float(row["difficulty"]))
    folders = sorted(counts)
    return np.array([counts[k] for k in folders]), np.array([difficulty[k] for k in folders])


def cell_stats(record: dict, root: Path, data_root: Path) -> dict | None:
    memory = record.get("memory") or {}
    if not memory.get("margin"):
        return None
    synth_root = Path(record["config"]["synth"]["root"])
    images_csv = root / synth_root / "images.csv"
    if not images_csv.is_file():  # written elsewhere (another checkout): the same set under --data-root
        images_csv = data_root / synth_root.name / "images.csv"
    if not images_csv.is_file():
        raise FileNotFoundError(f"{images_csv}: regenerate the data with: {record['reproduce']}")
    n, difficulty = train_classes(images_csv)
    margin, phi = np.asarray(memory["margin"], float), np.asarray(memory["phi"], float)
    if len(margin) != len(n):
        raise ValueError(f"{record['row']} seed {record['seed']}: {len(margin)} margins for {len(n)} classes")
    section = record["config"]["margin"]
    m0, delta = section.get("m0", section.get("margin")), section["delta"]  # older records: "margin"
    return {
        "dataset": record["dataset"],
        "row": record["row"],
        "seed": record["seed"],
        "spearman_margin_difficulty": float(stats.spearmanr(margin, difficulty).statistic),
        "spearman_margin_images": float(stats.spearmanr(margin, n).statistic),
        "spearman_phi_difficulty": float(stats.spearmanr(phi, difficulty).statistic),
        "spearman_phi_images": float(stats.spearmanr(phi, n).statistic),
        "mean_margin_le5_images": float(margin[n <= 5].mean()),
        "mean_margin_ge20_images": float(margin[n >= 20].mean()),
        "classes_le5_images": int((n <= 5).sum()),
        "classes_ge20_images": int((n >= 20).sum()),
        "at_lower_bound": float(np.isclose(margin, m0 - delta, atol=1e-4).mean()),
        "at_upper_bound": float(np.isclose(margin, m0 + delta, atol=1e-4).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a --results-dir of clusterface ablate")
    parser.add_argument("--root", type=Path, default=Path("."), help="where the records' data paths start")
    parser.add_argument(
        "--data-root", type=Path, default=Path("data/ablation"), help="clusterface ablate's --data-root"
    )
    parser.add_argument("--json", type=Path, help="write the per-cell statistics here")
    args = parser.parse_args(argv)
    cells = []
    for path in sorted(args.results.glob("*/*/seed*.json")):
        found = cell_stats(json.loads(path.read_text()), args.root, args.data_root)
        if found is not None:
            cells.append(found)
    for c in cells:
        print(
            f"{c['dataset']}/{c['row']}/seed{c['seed']}: rho(m, difficulty) {c['spearman_margin_difficulty']:+.3f}  "
            f"rho(m, images) {c['spearman_margin_images']:+.3f}  m(<=5 img) {c['mean_margin_le5_images']:.3f}  "
            f"m(>=20 img) {c['mean_margin_ge20_images']:.3f}  "
            f"at bounds {c['at_lower_bound']:.2f}/{c['at_upper_bound']:.2f}"
        )
    if args.json:
        command = shlex.join([".venv/bin/python", "benchmarks/margin_targets.py", *(argv or sys.argv[1:])])
        args.json.write_text(json.dumps({"command": command, "cells": cells}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
