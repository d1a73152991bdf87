"""Verification metrics on pair scores: the 10-fold protocol of the .bin sets and TAR@FAR.

Pure functions on arrays (no model, no I/O). The 10-fold protocol follows insightface's
``eval/verification.py`` (itself from facenet's LFW code), docs/method.md "Evaluation protocols":
squared distance ``‖e1 − e2‖²`` between L2-normalised features, a pair is predicted "same"
when ``dist < threshold``, folds are contiguous tenths of the pairs in file order
(``KFold(n_splits=10, shuffle=False)``), the threshold with the best accuracy on the other
9 folds (first one on ties, like ``np.argmax``) is applied to the held-out fold.

The reference implementation loops over 400 thresholds per fold (0.00–3.99; docs/method.md and this
module add 4.00, see DEFAULT_THRESHOLDS); here every threshold
and every fold is counted at once from sorted distances (``np.searchsorted``), which
gives the same counts in a few milliseconds for 6,000 pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from clusterface.config.schema import EvalConfig
from clusterface.ops import DegenerateEmbeddingError, check_embeddings

# docs/method.md, Evaluation protocols: thresholds 0.00..4.00 step 0.01 (401 values). The first
# 400 are the same floats as insightface's np.arange(0, 4, 0.01), so `dist < t` decides ties
# exactly as that reference; 4.00 (every pair "same" except exactly antipodal ones) is the one
# extra value.
DEFAULT_THRESHOLDS: NDArray[np.float64] = np.arange(0, 4.005, 0.01)
DEFAULT_FARS: tuple[float, ...] = EvalConfig().fars


def pair_distances(embeddings: ArrayLike) -> NDArray[np.float64]:
    """Squared distances ``‖e[2i] − e[2i+1]‖²`` of consecutive pairs, as in a .bin set (2 images per pair)."""
    emb = check_embeddings(embeddings)
    if len(emb) % 2:
        raise ValueError(f"expected an even number of embeddings (2 per pair), got {len(emb)}")
    diff = emb[0::2].astype(np.float64) - emb[1::2].astype(np.float64)
    return np.einsum("ij,ij->i", diff, diff)


def kfold_slices(n: int, n_folds: int = 10) -> list[slice]:
    """Contiguous folds exactly as ``sklearn.model_selection.KFold(n_folds, shuffle=False)``.

    The first ``n % n_folds`` folds have one extra item.
    """
    if n < n_folds:
        raise ValueError(f"need at least {n_folds} pairs for {n_folds} folds, got {n}")
    sizes = np.full(n_folds, n // n_folds, dtype=np.int64)
    sizes[: n % n_folds] += 1
    stops = np.cumsum(sizes)
    return [slice(int(stop - size), int(stop)) for stop, size in zip(stops, sizes, strict=True)]


@dataclass
class VerificationResult:
    """Outcome of the 10-fold protocol; accuracies are fractions in [0, 1]."""

    accuracy_mean: float
    accuracy_std: float
    fold_accuracies: list[float]
    fold_thresholds: list[float]
    best_threshold: float  # mean of the per-fold thresholds chosen on the training folds
    val: float  # VAL (TAR) at far_target, mean over folds
    val_std: float
    far: float  # the FAR actually reached on the test folds, mean over folds
    far_target: float
    num_pairs: int
    num_genuine: int
    num_impostor: int
    tpr: list[float] = field(repr=False)  # mean over test folds, per threshold (the ROC)
    fpr: list[float] = field(repr=False)
    thresholds: list[float] = field(repr=False)

    def to_dict(self, curves: bool = False) -> dict[str, object]:
        """Plain-JSON dict; ``curves=False`` leaves out the per-threshold ROC arrays."""
        out = asdict(self)
        if not curves:
            for key in ("tpr", "fpr", "thresholds"):
                out.pop(key)
        return out


def _counts_below(dist: NDArray[np.float64], thresholds: NDArray[np.float64]) -> NDArray[np.int64]:
    """For each threshold t, the number of ``dist`` values strictly below t (``np.less`` as the reference)."""
    return np.searchsorted(np.sort(dist), thresholds, side="left").astype(np.int64)


def _checked_pairs(
    distances: ArrayLike, issame: ArrayLike, kind: Literal["distance", "cosine"]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """(P,) squared distances and (P,) bool labels, checked: same length, finite, not all equal."""
    dist = np.asarray(distances, dtype=np.float64).ravel()
    if kind == "cosine":
        dist = 2.0 - 2.0 * dist
    same = np.asarray(issame, dtype=bool).ravel()
    if dist.shape != same.shape:
        raise ValueError(f"{dist.shape[0]} distances for {same.shape[0]} labels")
    if not np.isfinite(dist).all():
        raise DegenerateEmbeddingError(f"{int((~np.isfinite(dist)).sum())} pair distances are NaN or inf")
    if dist.size > 1 and np.ptp(dist) == 0:
        raise DegenerateEmbeddingError(
            f"all {dist.size} pair distances are equal ({dist[0]:.4g}): the embeddings are degenerate"
        )
    return dist, same


def _fold_counts(
    dist: NDArray[np.float64], same: NDArray[np.bool_], thr: NDArray[np.float64], folds: list[slice]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """tp[f, t] / fp[f, t]: genuine / impostor pairs of fold f with dist < thr[t]; (F,) genuine and impostor counts."""
    tp = np.stack([_counts_below(dist[s][same[s]], thr) for s in folds])
    fp = np.stack([_counts_below(dist[s][~same[s]], thr) for s in folds])
    n_same = np.array([same[s].sum() for s in folds], dtype=np.int64)
    n_diff = np.array([(~same[s]).sum() for s in folds], dtype=np.int64)
    return tp, fp, n_same, n_diff


def verification_10fold(
    distances: ArrayLike,
    issame: ArrayLike,
    n_folds: int = 10,
    thresholds: ArrayLike | None = None,
    far_target: float = 1e-3,
    kind: Literal["distance", "cosine"] = "distance",
) -> VerificationResult:
    """10-fold verification accuracy and VAL@FAR from pair distances (docs/method.md, Evaluation protocols).

    distances: (P,) squared distances ``‖e1 − e2‖²`` of L2-normalised features, pairs in file order
    (``kind="cosine"``: cosine similarities, converted with ‖e1 − e2‖² = 2 − 2 cos);
    issame: (P,) bool. Same rule as insightface's ``calculate_roc`` / ``calculate_val``:
    predicted same ⇔ ``dist < t``; per fold, the threshold of best accuracy on the other folds is
    applied to the held-out fold. VAL@FAR: on the training folds the threshold giving ``far_target``
    is found by linear interpolation of FAR(t) (``interp1d(kind="slinear")`` in the reference; 0 when
    the target FAR is never reached), and VAL/FAR are measured on the held-out fold.
    """
    dist, same = _checked_pairs(distances, issame, kind)
    thr = DEFAULT_THRESHOLDS if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    folds = kfold_slices(dist.size, n_folds)

    tp, fp, n_same, n_diff = _fold_counts(dist, same, thr, folds)
    n_pairs = n_same + n_diff

    # tn = n_diff - fp; accuracy = (tp + tn) / n
    correct = tp + (n_diff[:, None] - fp)
    correct_train = correct.sum(0, keepdims=True) - correct
    acc_train = correct_train / (n_pairs.sum() - n_pairs)[:, None]
    best = np.argmax(acc_train, axis=1)  # first maximum, as np.argmax in the reference
    rows = np.arange(len(folds))
    fold_acc = correct[rows, best] / n_pairs

    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.where(n_same[:, None] > 0, tp / n_same[:, None], 0.0)
        fpr = np.where(n_diff[:, None] > 0, fp / n_diff[:, None], 0.0)

    # VAL@FAR: FAR(t) on the training folds, threshold by interpolation, applied to the test fold
    fp_train = fp.sum(0, keepdims=True) - fp
    n_diff_train = n_diff.sum() - n_diff
    val = np.zeros(len(folds))
    far = np.zeros(len(folds))
    for f, s in enumerate(folds):
        far_train = fp_train[f] / max(int(n_diff_train[f]), 1)
        t = _threshold_at_far(far_train, thr, far_target)
        d, g = dist[s], same[s]
        accepted = d < t
        val[f] = (accepted & g).sum() / max(int(g.sum()), 1)
        far[f] = (accepted & ~g).sum() / max(int((~g).sum()), 1)

    return VerificationResult(
        accuracy_mean=float(fold_acc.mean()),
        accuracy_std=float(fold_acc.std()),
        fold_accuracies=fold_acc.tolist(),
        fold_thresholds=thr[best].tolist(),
        best_threshold=float(thr[best].mean()),
        val=float(val.mean()),
        val_std=float(val.std()),
        far=float(far.mean()),
        far_target=far_target,
        num_pairs=int(dist.size),
        num_genuine=int(same.sum()),
        num_impostor=int((~same).sum()),
        tpr=tpr.mean(0).tolist(),
        fpr=fpr.mean(0).tolist(),
        thresholds=thr.tolist(),
    )


def _threshold_at_far(far_train: NDArray[np.float64], thresholds: NDArray[np.float64], target: float) -> float:
    """The reference's ``interp1d(far_train, thresholds, kind="slinear")(target)`` for a non-decreasing FAR(t).

    FAR(t) is a step function; the reference sorts by FAR stably, so the interpolation runs between
    the last threshold whose FAR is ≤ target and the next one. 0 when the target is never reached.
    (Current scipy's ``interp1d`` refuses the repeated FAR values, so the rule is written out here.)
    """
    if far_train.max() < target:
        return 0.0
    i = int(np.searchsorted(far_train, target, side="right"))  # first index with FAR > target
    if i == 0:
        return float(thresholds[0])
    if i >= len(far_train) or far_train[i - 1] == target:
        return float(thresholds[i - 1])
    x0, x1 = far_train[i - 1], far_train[i]
    return float(thresholds[i - 1] + (target - x0) * (thresholds[i] - thresholds[i - 1]) / (x1 - x0))


@dataclass(frozen=True)
class TarAtFar:
    """TAR at one target FAR; ``tar`` is None (with ``reason``) when the FAR cannot be measured."""

    far: float
    tar: float | None
    threshold: float | None  # score threshold: accepted ⇔ score ≥ threshold
    achieved_far: float | None
    reason: str | None = None


def tar_at_far(
    scores: ArrayLike,
    is_same: ArrayLike,
    fars: Sequence[float] = DEFAULT_FARS,
) -> list[TarAtFar]:
    """TAR at each target FAR from the ROC of all scored pairs (``sklearn.metrics.roc_curve``).

    scores: (P,) similarities (higher = more alike; pass ``-distance`` for distances); is_same: (P,).
    TAR is read at the ROC point with the largest FAR not above the target (so the reported
    operating point never exceeds the target FAR). A FAR below ``1 / num_impostors`` cannot be
    measured: it is reported as None with the number of impostor pairs in ``reason``.
    """
    from sklearn.metrics import roc_curve

    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(is_same, dtype=bool).ravel()
    if s.shape != y.shape:
        raise ValueError(f"{s.shape[0]} scores for {y.shape[0]} labels")
    if not np.isfinite(s).all():
        raise DegenerateEmbeddingError(f"{int((~np.isfinite(s)).sum())} scores are NaN or inf")
    n_imp, n_gen = int((~y).sum()), int(y.sum())
    if n_imp == 0 or n_gen == 0:
        raise ValueError(f"TAR@FAR needs genuine and impostor pairs; got {n_gen} genuine, {n_imp} impostor")
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    out = []
    for target in fars:
        if target * n_imp < 1:
            out.append(
                TarAtFar(
                    far=float(target),
                    tar=None,
                    threshold=None,
                    achieved_far=None,
                    reason=f"only {n_imp} impostor pairs; FAR={target:g} needs at least {int(np.ceil(1 / target))}",
                )
            )
            continue
        # fpr is non-decreasing; last index with fpr <= target has the largest tpr under the target
        i = int(np.searchsorted(fpr, target, side="right")) - 1
        out.append(TarAtFar(far=float(target), tar=float(tpr[i]), threshold=float(thr[i]), achieved_far=float(fpr[i])))
    return out


def tar_at_far_dict(results: Sequence[TarAtFar]) -> dict[str, float | None]:
    """``{"1e-04": 0.93, ...}`` for reports (None where unreachable)."""
    return {f"{r.far:.0e}": r.tar for r in results}
