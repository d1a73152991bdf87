"""A small JSON summary of one evaluated model: headline metrics plus the arrays the ablation analyses need.

The ablation study keeps one such summary per cell (row × seed × dataset) and builds every table
and plot from them, so they hold *summaries* (histogram counts, per-identity statistics), never
per-image features or per-pair scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from clusterface.analysis.plots import class_dispersion
from clusterface.analysis.results import ModelEvaluation

#: TAR@FAR values reported by the study (those the pair set cannot reach are null, with the reason).
STUDY_FARS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
#: Bin edges of the stored genuine / impostor cosine-similarity histograms.
SIMILARITY_BINS: NDArray[np.float64] = np.linspace(-1.0, 1.0, 81)


def _r(x: float, digits: int = 6) -> float | None:
    return round(float(x), digits) if math.isfinite(float(x)) else None


def separation(scores: ArrayLike, issame: ArrayLike) -> dict[str, Any]:
    """Genuine / impostor similarity statistics and their separation d′ = (μ_g − μ_i) / √((σ_g² + σ_i²)/2).

    ``scores``: (P,) cosine similarities; ``issame``: (P,) bool. Also the histogram counts over
    ``SIMILARITY_BINS`` (80 bins on [−1, 1]).
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(issame, dtype=bool)
    g, i = s[y], s[~y]
    pooled = math.sqrt(0.5 * (g.var() + i.var()))
    return {
        "genuine_mean": _r(g.mean()),
        "genuine_std": _r(g.std()),
        "impostor_mean": _r(i.mean()),
        "impostor_std": _r(i.std()),
        "d_prime": _r((g.mean() - i.mean()) / pooled) if pooled > 0 else None,
        "bins": [round(float(b), 4) for b in SIMILARITY_BINS],
        "genuine_counts": np.histogram(g, SIMILARITY_BINS)[0].astype(int).tolist(),
        "impostor_counts": np.histogram(i, SIMILARITY_BINS)[0].astype(int).tolist(),
    }


def angle_statistics(features: ArrayLike, labels: ArrayLike) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Intra-/inter-class angles (degrees) of L2-normalised ``features`` (N, d) with ``labels`` (N,).

    Intra: angle between each face and its identity's mean direction. Inter: angle between
    identity mean directions (all pairs, and each identity's nearest other identity). Also per
    identity (sorted ids): leave-one-out 1-NN identification accuracy (is the most similar other
    face of the same identity?), mean intra angle, and PCL's φ (``class_dispersion``).
    Returns (summary, per-identity lists).
    """
    x = np.asarray(features, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    y = np.asarray(labels)
    ids, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
    sums = np.zeros((len(ids), x.shape[1]))
    np.add.at(sums, inv, x)
    centres = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    intra = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", x, centres[inv]), -1.0, 1.0)))
    cc = np.clip(centres @ centres.T, -1.0, 1.0)
    np.fill_diagonal(cc, -np.inf)
    nearest = np.degrees(np.arccos(cc.max(axis=1))) if len(ids) > 1 else np.full(len(ids), np.nan)
    upper = np.triu_indices(len(ids), k=1)
    inter = np.degrees(np.arccos(cc[upper])) if len(ids) > 1 else np.array([np.nan])
    # leave-one-out 1-NN in blocks (N x N similarities would be fine for a few thousand faces anyway)
    hit = np.zeros(len(x), dtype=bool)
    for start in range(0, len(x), 1024):
        sim = x[start : start + 1024] @ x.T
        rows = np.arange(sim.shape[0])
        sim[rows, start + rows] = -np.inf
        hit[start : start + 1024] = inv[np.argmax(sim, axis=1)] == inv[start : start + 1024]
    nn1 = np.bincount(inv, weights=hit, minlength=len(ids)) / counts
    intra_per_class = np.bincount(inv, weights=intra, minlength=len(ids)) / counts
    _, phi, _ = class_dispersion(x, y)
    summary = {
        "intra_mean_deg": _r(intra.mean(), 4),
        "intra_median_deg": _r(np.median(intra), 4),
        "inter_mean_deg": _r(np.nanmean(inter), 4),
        "inter_nearest_mean_deg": _r(np.nanmean(nearest), 4),
        "inter_nearest_min_deg": _r(np.nanmin(nearest), 4) if len(ids) > 1 else None,
        "nn1_accuracy": _r(hit.mean()),
    }
    per_class = {
        "images": counts.astype(int).tolist(),
        "phi": [_r(v) for v in phi],
        "nn1_accuracy": [_r(v, 4) for v in nn1],
        "intra_mean_deg": [_r(v, 3) for v in intra_per_class],
        "nearest_other_deg": [_r(v, 3) for v in nearest],
    }
    return summary, per_class


def tar_summary(ev: ModelEvaluation, fars: Sequence[float] = STUDY_FARS) -> dict[str, Any]:
    """TAR at each of ``fars`` on the first pair set; None (and the reason) where the set cannot measure it."""
    pairs = ev.bins[0]
    by_far = {f"{t.far:.0e}": t for t in pairs.tar}
    out: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for far in fars:
        key = f"{far:.0e}"
        t = by_far.get(key)
        out[key] = _r(t.tar) if t is not None and t.tar is not None else None
        if t is None or t.tar is None:
            reasons[key] = t.reason if t is not None and t.reason else "not computed"
    return {"tar_at_far": out, "tar_unreachable": reasons}


def summarize_evaluation(ev: ModelEvaluation, cluster_methods: Sequence[str] = ("infomap", "kmeans")) -> dict[str, Any]:
    """JSON-ready summary of one ``evaluate_model`` result with one pair set and a labelled face set.

    Keys: ``verification`` (10-fold accuracy and std, TAR@FAR), ``clustering`` (pairwise F,
    BCubed F, NMI and precision/recall per method), ``similarity`` (``separation``), ``angles``
    and ``per_class`` (``angle_statistics``; identity names in ``per_class['identity']``), and
    ``memory`` (φ and margin per training class, when the checkpoint holds a class-centre memory).
    """
    if not ev.bins:
        raise ValueError(f"{ev.name}: the summary needs a verification pair set")
    c = ev.clustering
    if c is None or c.labels is None:
        raise ValueError(f"{ev.name}: the summary needs a labelled face set for clustering")
    labels = c.labels
    pairs = ev.bins[0]
    v = pairs.verification
    out: dict[str, Any] = {
        "verification": {
            "set": pairs.name,
            "num_pairs": v.num_pairs,
            "num_impostor": v.num_impostor,
            "accuracy": _r(v.accuracy_mean),
            "accuracy_std": _r(v.accuracy_std),
            **tar_summary(ev),
        }
    }
    out["clustering"] = {
        "num_faces": len(c.item_names),
        "num_identities": len(np.unique(labels)),
        "threshold": _r(c.options.threshold),
        "threshold_source": c.threshold_source,
        "nmi_averaging": "arithmetic",
        "methods": {
            m: {k: _r(val) for k, val in c.scores[m].items()} | {"clusters": len(np.unique(c.assignments[m]))}
            for m in cluster_methods
            if m in c.scores
        },
    }
    out["similarity"] = separation(pairs.scores, pairs.issame)
    angles, per_class = angle_statistics(c.features, labels)
    out["angles"] = angles
    ids = np.unique(labels)
    per_class["identity"] = [c.class_names[i] if c.class_names else str(int(i)) for i in ids]
    out["per_class"] = per_class
    if ev.memory_phi is not None and ev.memory_margins is not None:
        out["memory"] = {
            "phi": [_r(v) for v in ev.memory_phi],
            "margin": [_r(v) for v in ev.memory_margins],
        }
    return out
