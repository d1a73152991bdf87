"""Plots of the ablation report (matplotlib, Agg): bars with intervals, paired differences, learning
curves, similarity distributions, difficulty split. Each function writes one PNG and returns its path."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clusterface.analysis.ablation_summary import METRICS_BY_KEY
from clusterface.analysis.plots import _pyplot, _save

BAR_METRICS: tuple[str, ...] = ("accuracy", "tar_1e-02", "tar_1e-03", "infomap_pair_f", "kmeans_pair_f", "d_prime")


def _err(iv: Mapping[str, Any], scale: float) -> tuple[float, float]:
    mean = iv.get("mean")
    low, high = iv.get("low"), iv.get("high")
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return math.nan, 0.0
    half = 0.0 if low is None or high is None else (high - low) / 2
    return scale * mean, scale * half


def plot_metric_bars(ds: Mapping[str, Any], path: str | Path, keys: Sequence[str] = BAR_METRICS) -> Path:
    """One panel per metric: per row the mean over seeds with its 95 % interval."""
    plt = _pyplot()
    rows = list(ds["rows"])
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.8), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        m = METRICS_BY_KEY[key]
        vals = [_err(ds["rows"][r]["metrics"][key], m.scale) for r in rows]
        means = np.array([v[0] for v in vals])
        ax.bar(range(len(rows)), means, yerr=[v[1] for v in vals], capsize=3, color="tab:blue", alpha=0.75)
        finite = means[np.isfinite(means)]
        if finite.size:  # zoom on the differences: bars from just below the smallest mean
            lo = float(finite.min() - 3 * max(max(v[1] for v in vals), 0.02 * abs(finite.min()) + 1e-9))
            ax.set_ylim(max(lo, 0.0), float(finite.max() + 2 * max(v[1] for v in vals) + 1e-9) * 1.01)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(rows, rotation=60, ha="right", fontsize=7)
        ax.set_title(m.label, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("mean over seeds, bars = 95 % t interval")
    return _save(fig, path)


def plot_paired_differences(ds: Mapping[str, Any], path: str | Path, keys: Sequence[str] = BAR_METRICS) -> Path:
    """One panel per metric: per row the paired difference to the baseline with its 95 % interval (0 dashed)."""
    plt = _pyplot()
    rows = [r for r in ds["rows"] if r != ds["baseline"]]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.8), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        m = METRICS_BY_KEY[key]
        vals = [_err(ds["rows"][r]["paired"].get(key, {}), m.scale) for r in rows]
        ax.errorbar(range(len(rows)), [v[0] for v in vals], yerr=[v[1] for v in vals], fmt="o", capsize=3)
        ax.axhline(0.0, color="k", ls="--", lw=0.8)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(rows, rotation=60, ha="right", fontsize=7)
        ax.set_title(f"Δ {m.label}", fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"row − {ds['baseline']}, paired by seed (95 % t interval)")
    return _save(fig, path)


def plot_learning_curves(curves: Mapping[str, Sequence[Mapping[str, Any]]], path: str | Path) -> Path:
    """Classification loss against epoch per row (each curve: the mean over seeds of the logged points).

    ``curves``: {row: [learning_curve of each seed]} as stored in the cell records. A second panel
    shows the validation accuracy when the cells evaluated periodically.
    """
    plt = _pyplot()
    has_val = any(c.get("validation") for seeds in curves.values() for c in seeds)
    fig, axes = plt.subplots(1, 2 if has_val else 1, figsize=(11 if has_val else 6, 4), squeeze=False)
    for row, seeds in curves.items():
        hist = [c.get("history", []) for c in seeds if c.get("history")]
        if hist:
            n = min(len(h) for h in hist)
            ep = np.array([h[i]["epoch"] for i in range(n) for h in hist[:1]])
            # the classification (margin cross-entropy) loss: the part every row has, so the curves compare
            loss = np.mean([[h[i].get("cls", h[i].get("loss", np.nan)) for i in range(n)] for h in hist], axis=0)
            axes[0][0].plot(ep, loss, label=row)
        if has_val:
            val = [c.get("validation", []) for c in seeds if c.get("validation")]
            if val:
                n = min(len(v) for v in val)
                ep = np.array([val[0][i]["epoch"] for i in range(n)])
                acc = np.mean([[100 * v[i].get("accuracy", np.nan) for i in range(n)] for v in val], axis=0)
                axes[0][1].plot(ep, acc, marker="o", label=row)
    axes[0][0].set_xlabel("epoch")
    axes[0][0].set_ylabel("classification loss (mean over seeds)")
    axes[0][0].set_yscale("log")
    axes[0][0].legend(fontsize=7)
    axes[0][0].grid(True, alpha=0.3)
    if has_val:
        axes[0][1].set_xlabel("epoch")
        axes[0][1].set_ylabel("validation accuracy % (mean over seeds)")
        axes[0][1].legend(fontsize=7)
        axes[0][1].grid(True, alpha=0.3)
    return _save(fig, path)


def plot_similarity_counts(hists: Mapping[str, Mapping[str, Any]], path: str | Path) -> Path:
    """Genuine / impostor cosine-similarity histograms from stored counts, one panel per row (summed over seeds)."""
    plt = _pyplot()
    n = len(hists)
    cols = min(n, 4)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 2.9 * nrows), squeeze=False)
    for ax, (row, h) in zip(axes.ravel(), hists.items(), strict=False):
        edges = np.asarray(h["bins"])
        centres = 0.5 * (edges[1:] + edges[:-1])
        width = edges[1] - edges[0]
        for key, colour in (("impostor_counts", "tab:red"), ("genuine_counts", "tab:blue")):
            c = np.asarray(h[key], dtype=np.float64)
            ax.bar(centres, c / max(c.sum() * width, 1e-12), width, alpha=0.55, color=colour, label=key.split("_")[0])
        ax.set_title(f"{row}  (d′ = {h.get('d_prime', float('nan')):.2f})", fontsize=8)
        ax.set_xlabel("cosine similarity", fontsize=8)
        ax.legend(fontsize=6)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return _save(fig, path)


def plot_difficulty(diff: Mapping[str, Any], path: str | Path) -> Path:
    """Per row: gain in per-identity 1-NN accuracy over the baseline by difficulty quartile (95 % interval)."""
    plt = _pyplot()
    rows = list(diff["rows"])
    fig, ax = plt.subplots(figsize=(7, 4))
    q = len(diff["baseline_nn1"])
    width = 0.8 / max(len(rows), 1)
    for i, row in enumerate(rows):
        vals = [_err(iv, 100.0) for iv in diff["rows"][row]]
        ax.bar(
            np.arange(q) + (i - (len(rows) - 1) / 2) * width,
            [v[0] for v in vals],
            width,
            yerr=[v[1] for v in vals],
            capsize=2,
            label=row,
        )
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xticks(range(q))
    ax.set_xticklabels([f"Q{i + 1}" for i in range(q)])
    ax.set_xlabel(diff["quartile_of"])
    ax.set_ylabel("Δ per-identity 1-NN accuracy (pt)")
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)
