"""Numbers of an ablation study from its per-cell records: intervals over seeds, paired differences, analyses.

Input: the cell records written by ``clusterface.workflows.ablation`` (one JSON per dataset × row
× seed). Output: one JSON-ready dict that ``ablation_report`` renders. Every metric here is
"higher is better" (accuracy, TAR, clustering F and NMI, d′, 1-NN accuracy).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clusterface.analysis.intervals import paired_difference, t_interval


@dataclass(frozen=True)
class Metric:
    """One column of the study: where it lives in a cell record and how it is shown."""

    key: str
    label: str
    path: tuple[str, ...]
    scale: float = 100.0  # shown as percent / points
    digits: int = 2


METRICS: tuple[Metric, ...] = (
    Metric("accuracy", "accuracy %", ("verification", "accuracy")),
    Metric("tar_1e-02", "TAR@1e-2 %", ("verification", "tar_at_far", "1e-02")),
    Metric("tar_1e-03", "TAR@1e-3 %", ("verification", "tar_at_far", "1e-03")),
    Metric("tar_1e-04", "TAR@1e-4 %", ("verification", "tar_at_far", "1e-04")),
    Metric("infomap_pair_f", "Infomap pair F", ("clustering", "methods", "infomap", "pairwise_fscore"), 1.0, 3),
    Metric("infomap_bcubed_f", "Infomap BCubed F", ("clustering", "methods", "infomap", "bcubed_fscore"), 1.0, 3),
    Metric("infomap_nmi", "Infomap NMI", ("clustering", "methods", "infomap", "nmi"), 1.0, 3),
    Metric("kmeans_pair_f", "k-means pair F", ("clustering", "methods", "kmeans", "pairwise_fscore"), 1.0, 3),
    Metric("kmeans_bcubed_f", "k-means BCubed F", ("clustering", "methods", "kmeans", "bcubed_fscore"), 1.0, 3),
    Metric("kmeans_nmi", "k-means NMI", ("clustering", "methods", "kmeans", "nmi"), 1.0, 3),
    Metric("d_prime", "d′", ("similarity", "d_prime"), 1.0, 3),
    Metric("nn1", "1-NN id. %", ("angles", "nn1_accuracy")),
)
METRICS_BY_KEY = {m.key: m for m in METRICS}


def metric_value(record: dict[str, Any], metric: Metric) -> float:
    """The metric of a cell record, NaN when the cell could not measure it (e.g. TAR below 1/impostors)."""
    node: Any = record
    for k in metric.path:
        if not isinstance(node, dict) or node.get(k) is None:
            return math.nan
        node = node[k]
    return float(node)


def load_cell_records(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every cell record under ``results_dir`` (``<dataset>/<row>/seed<k>.json``), sorted by dataset, row, seed."""
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no results directory (run `clusterface ablate` first)")
    records = []
    for path in sorted(root.glob("*/*/seed*.json")):
        try:
            rec = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}); delete it and rerun its cell") from err
        if not isinstance(rec, dict) or not {"dataset", "row", "seed", "verification"} <= set(rec):
            raise ValueError(f"{path} is not an ablation cell record")
        records.append(rec)
    if not records:
        raise FileNotFoundError(f"{root} holds no cell records (<dataset>/<row>/seed<k>.json)")
    return sorted(records, key=lambda r: (r["dataset"], r["row"], r["seed"]))


def _by_seed(records: Iterable[dict[str, Any]], value: Callable[[dict[str, Any]], float]) -> dict[int, float]:
    return {int(r["seed"]): value(r) for r in records}


def difficulty_split(rows: dict[str, dict[int, dict[str, Any]]], baseline: str, quartiles: int = 4) -> dict[str, Any]:
    """Gain in per-identity 1-NN accuracy over the baseline, by quartile of the baseline's per-identity φ.

    Per seed, the held-out identities are split into quartiles of φ measured with the *baseline*
    model of that seed (Q1 = most concentrated, Q4 = loosest = hardest); for every row the mean of
    (row − baseline) per-identity 1-NN accuracy within a quartile is one value per seed, and the
    interval is over seeds. Also the baseline's own accuracy per quartile (the split's meaning).
    """
    base = rows.get(baseline, {})
    out: dict[str, Any] = {"quartile_of": f"φ of the {baseline} model (Q1 tight … Q{quartiles} loose)", "rows": {}}
    base_acc: dict[int, list[float]] = defaultdict(list)
    per_row: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for seed, brec in base.items():
        pc = brec.get("per_class") or {}
        names = pc.get("identity") or []
        phi = np.array([np.nan if v is None else v for v in pc.get("phi", [])], dtype=np.float64)
        if len(names) < quartiles or len(phi) != len(names):
            continue
        edges = np.nanquantile(phi, np.linspace(0, 1, quartiles + 1)[1:-1])
        q_of = dict(zip(names, np.searchsorted(edges, phi, side="right"), strict=True))
        bacc = dict(zip(names, pc["nn1_accuracy"], strict=True))
        for q in range(quartiles):
            members = [n for n in names if q_of[n] == q]
            base_acc[q].append(float(np.mean([bacc[n] for n in members])) if members else math.nan)
        for row, recs in rows.items():
            rec = recs.get(seed)
            if rec is None or row == baseline:
                continue
            rpc = rec.get("per_class") or {}
            racc = dict(zip(rpc.get("identity", []), rpc.get("nn1_accuracy", []), strict=True))
            for q in range(quartiles):
                diffs = [racc[n] - bacc[n] for n in names if q_of[n] == q and n in racc]
                per_row[row][q].append(float(np.mean(diffs)) if diffs else math.nan)
    out["baseline_nn1"] = [t_interval(base_acc[q]).to_dict() for q in range(quartiles)]
    for row, by_q in per_row.items():
        out["rows"][row] = [t_interval(by_q[q]).to_dict() for q in range(quartiles)]
    return out


def _summarize_row(recs: dict[int, dict[str, Any]], base: dict[int, dict[str, Any]] | None) -> dict[str, Any]:
    """One row of a dataset: metric intervals, paired differences to ``base`` (None for the baseline
    itself), separation / angle statistics, cost, and the cells with their reproduce commands."""
    any_rec = next(iter(recs.values()))
    out: dict[str, Any] = {
        "seeds": sorted(recs),
        "row_config": any_rec.get("row_config"),
        "metrics": {},
        "paired": {},
        "cells": [
            {"seed": s, "key": r.get("key"), "reproduce": r.get("reproduce"), "cost": r.get("cost")}
            for s, r in sorted(recs.items())
        ],
    }
    for m in METRICS:
        values = _by_seed(recs.values(), lambda r, m=m: metric_value(r, m))  # type: ignore[misc]
        out["metrics"][m.key] = {**t_interval(list(values.values())).to_dict(), "per_seed": values}
        if base is not None:
            bvalues = _by_seed(base.values(), lambda r, m=m: metric_value(r, m))  # type: ignore[misc]
            out["paired"][m.key] = paired_difference(values, bvalues).to_dict()
    for group, keys in (
        ("similarity", ("genuine_mean", "impostor_mean", "genuine_std", "impostor_std", "d_prime")),
        ("angles", ("intra_mean_deg", "inter_nearest_mean_deg", "inter_mean_deg", "nn1_accuracy")),
    ):
        out[group] = {k: t_interval([_num(r.get(group, {}).get(k)) for r in recs.values()]).to_dict() for k in keys}
    # cost only of cells that ran in one go (a resumed cell's record holds only its last part)
    costs = [r.get("cost", {}) for r in recs.values() if r.get("cost", {}).get("steps_run") == r.get("steps")]
    out["cost"] = {
        k: t_interval([float(c[k]) for c in costs if c.get(k) is not None]).to_dict()
        for k in ("train_wall_s", "eval_wall_s", "cpu_s")
    }
    out["cost"]["cells_measured"] = len(costs)
    return out


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _setup(first: dict[str, Any]) -> dict[str, Any]:
    """What the cells of a dataset trained and were evaluated on (from one of its records)."""
    return {
        "epochs": first.get("epochs"),
        "steps": first.get("steps"),
        "train_classes": first.get("num_train_classes"),
        "train_images": first.get("num_train_images"),
        "test_pairs": first.get("verification", {}).get("num_pairs"),
        "test_faces": first.get("clustering", {}).get("num_faces"),
        "test_identities": first.get("clustering", {}).get("num_identities"),
        "backbone": first.get("config", {}).get("model", {}).get("backbone"),
        "dataset_spec": first.get("dataset_spec"),
        "split": first.get("split", "test"),
        "tar_unreachable": first.get("verification", {}).get("tar_unreachable", {}),
    }


def summarize_study(records: Sequence[dict[str, Any]], baseline: str | None = None) -> dict[str, Any]:
    """Per dataset: per row and metric the mean with its 95 % t interval over seeds, the paired
    difference to ``baseline`` (default: the first row whose name contains 'arcface', else the
    first row), separation and angle statistics, the difficulty split, and the cost per cell."""
    by_ds: dict[str, dict[str, dict[int, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for rec in records:
        by_ds[rec["dataset"]][rec["row"]][int(rec["seed"])] = rec
    out: dict[str, Any] = {"metrics": [m.__dict__ for m in METRICS], "datasets": {}}
    for ds, rows in sorted(by_ds.items()):
        names = sorted(rows)
        base = baseline if baseline in rows else next((r for r in names if "arcface" in r), names[0])
        out["datasets"][ds] = {
            "baseline": base,
            "rows": {row: _summarize_row(rows[row], None if row == base else rows[base]) for row in names},
            "difficulty": difficulty_split(rows, base),
            "setup": _setup(next(iter(rows[base].values()))),
        }
    return out
