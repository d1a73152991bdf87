"""Clustering metrics as pure functions on label arrays (docs/method.md, Evaluation protocols: Clustering).

All functions take ``pred`` and ``truth`` as (N,) integer arrays of cluster ids. Noise
(any negative id, e.g. DBSCAN's −1) in either array becomes one singleton cluster per item.

- Pairwise F-score (the face-clustering papers' "Fp"): precision = (Σ_ij n_ij² − N) / (Σ_j b_j² − N),
  recall = (Σ_ij n_ij² − N) / (Σ_i a_i² − N), where n_ij is the contingency table between
  true class i and predicted cluster j, a_i the class sizes and b_j the cluster sizes; i.e.
  over ordered pairs of distinct items. A partition with no pairs (all singletons) has
  precision 1 (it makes no false merges); likewise recall 1 when the truth is all singletons.
- BCubed F-score ("Fb"): per-item precision |C(i) ∩ L(i)| / |C(i)| and recall
  |C(i) ∩ L(i)| / |L(i)|, averaged over items.
- NMI: ``sklearn.metrics.normalized_mutual_info_score`` with **arithmetic** averaging
  (sklearn's default: MI / ((H(pred) + H(truth)) / 2)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


def noise_to_singletons(labels: ArrayLike) -> NDArray[np.int64]:
    """Give every negative (noise) label its own new cluster id (after the largest existing id)."""
    lab = np.asarray(labels).astype(np.int64, copy=True).ravel()
    noise = lab < 0
    if noise.any():
        start = int(lab.max()) + 1 if (~noise).any() else 0
        lab[noise] = np.arange(start, start + int(noise.sum()))
    return lab


_IntArray = NDArray[np.int64]


def _contingency(pred: ArrayLike, truth: ArrayLike) -> tuple[_IntArray, _IntArray, _IntArray, _IntArray, _IntArray]:
    """(n_ij of non-empty cells, row index i, column index j, class sizes a_i, cluster sizes b_j)."""
    p = noise_to_singletons(pred)
    t = noise_to_singletons(truth)
    if p.shape != t.shape:
        raise ValueError(f"pred has {p.size} items, truth has {t.size}")
    if p.size == 0:
        raise ValueError("empty labelling")
    _, t_idx = np.unique(t, return_inverse=True)
    _, p_idx = np.unique(p, return_inverse=True)
    a = np.bincount(t_idx).astype(np.int64)
    b = np.bincount(p_idx).astype(np.int64)
    cells, n_ij = np.unique(t_idx.astype(np.int64) * len(b) + p_idx, return_counts=True)
    return n_ij.astype(np.int64), cells // len(b), cells % len(b), a, b


@dataclass(frozen=True)
class PRF:
    """Precision, recall and their harmonic mean."""

    precision: float
    recall: float
    fscore: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _prf(precision: float, recall: float) -> PRF:
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return PRF(float(precision), float(recall), float(f))


def pairwise_fscore(pred: ArrayLike, truth: ArrayLike) -> PRF:
    """Pairwise precision/recall/F over pairs of items (see module docstring for the formula)."""
    n_ij, _, _, a, b = _contingency(pred, truth)
    n = int(a.sum())
    # float64 sums: at N = 1e6 the squares exceed int32 but not int64/float64 precision concerns
    tp = float((n_ij.astype(np.float64) ** 2).sum()) - n
    pred_pairs = float((b.astype(np.float64) ** 2).sum()) - n
    true_pairs = float((a.astype(np.float64) ** 2).sum()) - n
    precision = tp / pred_pairs if pred_pairs > 0 else 1.0
    recall = tp / true_pairs if true_pairs > 0 else 1.0
    return _prf(precision, recall)


def bcubed_fscore(pred: ArrayLike, truth: ArrayLike) -> PRF:
    """BCubed precision/recall/F: per-item overlap of its cluster and its class, averaged over items."""
    n_ij, i, j, a, b = _contingency(pred, truth)
    n = float(a.sum())
    n_ij_f = n_ij.astype(np.float64)
    # every item in cell (i, j) has precision n_ij / b_j and recall n_ij / a_i
    precision = float((n_ij_f**2 / b[j]).sum()) / n
    recall = float((n_ij_f**2 / a[i]).sum()) / n
    return _prf(precision, recall)


def nmi(pred: ArrayLike, truth: ArrayLike) -> float:
    """Normalised mutual information, arithmetic averaging of the entropies (sklearn's default)."""
    from sklearn.metrics import normalized_mutual_info_score

    p = noise_to_singletons(pred)
    t = noise_to_singletons(truth)
    if p.shape != t.shape:
        raise ValueError(f"pred has {p.size} items, truth has {t.size}")
    return float(normalized_mutual_info_score(t, p, average_method="arithmetic"))


def clustering_scores(pred: ArrayLike, truth: ArrayLike) -> dict[str, float]:
    """All clustering metrics in one flat dict (for metrics.json and the report)."""
    pw = pairwise_fscore(pred, truth)
    bc = bcubed_fscore(pred, truth)
    p = noise_to_singletons(pred)
    return {
        "pairwise_precision": pw.precision,
        "pairwise_recall": pw.recall,
        "pairwise_fscore": pw.fscore,
        "bcubed_precision": bc.precision,
        "bcubed_recall": bc.recall,
        "bcubed_fscore": bc.fscore,
        "nmi": nmi(pred, truth),
        "num_clusters": int(np.unique(p).size),
        "num_classes": int(np.unique(noise_to_singletons(truth)).size),
    }
