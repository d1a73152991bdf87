"""Plots of the evaluation report (matplotlib, Agg backend: no display needed).

Every function takes arrays, writes one PNG and returns its path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from clusterface.ops import l2_normalize


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:  # type: ignore[no-untyped-def]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = path.with_name(f".tmp-{path.name}")  # keeps the extension: matplotlib picks the format from it
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)  # a full disk leaves no truncated PNG behind
    finally:
        tmp.unlink(missing_ok=True)
        _pyplot().close(fig)
    return path


def plot_similarity_histograms(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]], path: str | Path, title: str = "Pair similarities"
) -> Path:
    """Genuine vs impostor cosine-similarity histograms, one panel per ``{name: (scores, issame)}``."""
    plt = _pyplot()
    n = len(curves)
    fig, axes = plt.subplots(1, n, figsize=(5.0 * n, 3.6), squeeze=False, sharey=False)
    bins = np.linspace(-1, 1, 81)
    for ax, (name, (scores, issame)) in zip(axes[0], curves.items(), strict=True):
        s = np.asarray(scores, dtype=np.float64)
        y = np.asarray(issame, dtype=bool)
        ax.hist(s[~y], bins=bins, alpha=0.6, density=True, label=f"impostor ({(~y).sum()})", color="tab:red")
        ax.hist(s[y], bins=bins, alpha=0.6, density=True, label=f"genuine ({y.sum()})", color="tab:blue")
        ax.set_xlabel("cosine similarity")
        ax.set_ylabel("density")
        gap = s[y].mean() - s[~y].mean()
        pooled = np.sqrt(0.5 * (s[y].var() + s[~y].var())) + 1e-12
        ax.set_title(f"{name}  (d' = {gap / pooled:.2f})")
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def plot_roc(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]], path: str | Path, title: str = "ROC", min_far: float = 1e-6
) -> Path:
    """ROC curves (TAR against FAR on a log axis) for {name: (scores, issame)}."""
    from sklearn.metrics import roc_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    lowest = 1.0
    for name, (scores, issame) in curves.items():
        y = np.asarray(issame, dtype=bool)
        fpr, tpr, _ = roc_curve(y, np.asarray(scores, dtype=np.float64), drop_intermediate=False)
        floor = 1.0 / max(int((~y).sum()), 1)
        lowest = min(lowest, floor)
        # TAR at each FAR of a log grid = best TPR with FPR <= FAR (the ROC as a step function); below
        # one impostor pair (FAR < 1/impostors) the curve carries no information and is not drawn
        grid = np.logspace(np.log10(floor), 0, 200)
        tar = tpr[np.searchsorted(fpr, grid, side="right") - 1]
        ax.plot(grid, tar, label=name)
    ax.set_xscale("log")
    ax.set_xlim(max(min_far, lowest), 1.0)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("FAR (log scale)")
    ax.set_ylabel("TAR")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    return _save(fig, path)


def plot_concentration_vs_margin(
    phi: ArrayLike, margins: ArrayLike, path: str | Path, title: str = "Concentration and margin per class"
) -> Path:
    """Scatter of PCL's φ per class (large = loose = low concentration) against its assigned margin m_k."""
    plt = _pyplot()
    p = np.asarray(phi, dtype=np.float64)
    m = np.asarray(margins, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.scatter(p, m, s=8, alpha=0.6)
    ax.set_xlabel("φ (dispersion; larger = lower concentration)")
    ax.set_ylabel("margin m_k (rad)")
    if len(p) > 1 and np.ptp(p) > 0 and np.ptp(m) > 0:
        r = np.corrcoef(p, m)[0, 1]
        ax.set_title(f"{title}\n{len(p)} classes, Pearson r = {r:.2f}")
    else:
        ax.set_title(f"{title}\n{len(p)} classes")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_concentration_histogram(phi: ArrayLike, path: str | Path, title: str = "Per-identity dispersion φ") -> Path:
    """Histogram of per-identity φ (e.g. of the evaluated identities, from their embeddings)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.hist(np.asarray(phi, dtype=np.float64), bins=40, color="tab:purple", alpha=0.8)
    ax.set_xlabel("φ (larger = looser identity cluster)")
    ax.set_ylabel("identities")
    ax.set_title(title)
    return _save(fig, path)


def plot_embedding_map(
    features: ArrayLike,
    labels: ArrayLike,
    path: str | Path,
    max_identities: int = 20,
    max_points: int = 1500,
    seed: int = 0,
    title: str = "t-SNE of embeddings (colour = identity)",
    names: Sequence[str] | None = None,
) -> Path:
    """2-D t-SNE map (cosine metric) of the embeddings of the ``max_identities`` largest identities."""
    from sklearn.manifold import TSNE

    plt = _pyplot()
    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels)
    ids, counts = np.unique(y, return_counts=True)
    chosen = ids[np.argsort(-counts, kind="stable")[:max_identities]]
    idx = np.flatnonzero(np.isin(y, chosen))
    rng = np.random.default_rng(seed)
    if len(idx) > max_points:
        idx = np.sort(rng.choice(idx, size=max_points, replace=False))
    perplexity = float(min(30, max(2, (len(idx) - 1) // 3)))
    xy = TSNE(n_components=2, metric="cosine", init="pca", perplexity=perplexity, random_state=seed).fit_transform(
        x[idx]
    )
    fig, ax = plt.subplots(figsize=(6, 5.5))
    cmap = plt.get_cmap("tab20")
    for c, ident in enumerate(chosen):
        sel = y[idx] == ident
        label = names[int(ident)] if names is not None else str(ident)
        ax.scatter(xy[sel, 0], xy[sel, 1], s=10, color=cmap(c % 20), label=label)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{title}\n{len(chosen)} largest identities, {len(idx)} faces")
    if len(chosen) <= 20:
        ax.legend(fontsize=6, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5), title="identity")
    return _save(fig, path)


def plot_clustering_scores(
    scores: Mapping[str, Mapping[str, float]], path: str | Path, title: str = "Face clustering"
) -> Path:
    """Grouped bars of pairwise F, BCubed F and NMI per clustering method (or per model/method)."""
    plt = _pyplot()
    names = list(scores)
    keys = [("pairwise_fscore", "pairwise F"), ("bcubed_fscore", "BCubed F"), ("nmi", "NMI")]
    x = np.arange(len(names))
    width = 0.8 / len(keys)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(names) + 2), 3.8))
    for i, (key, label) in enumerate(keys):
        ax.bar(x + (i - 1) * width, [scores[n].get(key, np.nan) for n in names], width, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 1.18)  # headroom so the legend row never covers a bar
    ax.legend(fontsize=8, loc="upper center", ncol=3, frameon=False)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)


def class_dispersion(
    features: ArrayLike, labels: ArrayLike, alpha: float = 10.0
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Per-identity PCL φ (RMS variant, docs/method.md) of L2-normalised features: (identity ids, φ, counts).

    The training memory's formula (``memory.concentration_rms``) on the whole set in float64:
    larger φ = looser cluster = lower concentration.
    """
    import torch

    from clusterface.memory.concentration import concentration_rms

    x = torch.as_tensor(np.asarray(features, dtype=np.float64))
    x = l2_normalize(x)
    ids, inv, counts = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
    sums = torch.zeros(len(ids), x.shape[1], dtype=torch.float64).index_add_(0, torch.as_tensor(inv), x)
    phi = concentration_rms(sums, torch.as_tensor(counts), alpha).numpy()
    return ids.astype(np.int64), phi, counts.astype(np.int64)


def hardest_identities(
    phi: ArrayLike, names: Sequence[str] | None = None, n: int = 10, counts: ArrayLike | None = None
) -> list[dict[str, float | int | str]]:
    """The ``n`` identities with the lowest concentration (largest φ), loosest first."""
    p = np.asarray(phi, dtype=np.float64)
    order = np.argsort(-p, kind="stable")[:n]
    out: list[dict[str, float | int | str]] = []
    for i in order:
        row: dict[str, float | int | str] = {"identity": names[i] if names is not None else int(i), "phi": float(p[i])}
        if counts is not None:
            row["images"] = int(np.asarray(counts)[i])
        out.append(row)
    return out
