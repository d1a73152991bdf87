"""Thresholds at target false-accept rates, with their uncertainty.

The point estimate is the project's TAR@FAR operating point (``evaluation.tar_at_far``, from
``sklearn.metrics.roc_curve``): the lowest cosine threshold whose FAR on the calibration pairs does
not exceed the target. Two uncertainties are reported, both at 95 %:

- ``ci_low``/``ci_high``: a bootstrap interval of the threshold. Impostor pairs are resampled with
  replacement (``n_boot`` times); in each resample the threshold at the target is the score of the
  ``(k+1)``-th highest impostor, ``k = ⌊FAR · n⌋`` (the boundary the point estimate sits just above).
- ``far_ci_low``/``far_ci_high``: an exact Clopper-Pearson interval of the true FAR at the chosen
  threshold, from the count ``x`` of impostors accepted out of ``n``.

A target below ``1 / n`` impostors cannot be calibrated and is reported as skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from clusterface.export.metadata import Threshold, far_key

CALIBRATION_FARS: tuple[float, ...] = (1e-3, 1e-4, 1e-5)


def clopper_pearson(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for a rate from ``x`` successes in ``n`` trials."""
    from scipy.stats import beta

    a = (1.0 - level) / 2
    low = 0.0 if x == 0 else float(beta.ppf(a, x, n - x + 1))
    high = 1.0 if x == n else float(beta.ppf(1 - a, x + 1, n - x))
    return low, high


def bootstrap_boundary(
    impostor_scores: ArrayLike, far: float, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of the ``(⌊far·n⌋+1)``-th highest impostor score over bootstrap resamples."""
    s = np.asarray(impostor_scores, dtype=np.float64)
    n = s.size
    k = int(np.floor(far * n))
    rng = np.random.default_rng(seed)
    boundaries = np.empty(n_boot)
    for b in range(n_boot):
        sample = s[rng.integers(0, n, size=n)]
        # the (k+1)-th largest = the (n-k-1)-th smallest (0-based); partition is O(n)
        boundaries[b] = np.partition(sample, n - k - 1)[n - k - 1]
    a = (1.0 - level) / 2
    return float(np.quantile(boundaries, a)), float(np.quantile(boundaries, 1 - a))


def calibrate_scores(
    scores: ArrayLike,
    is_same: ArrayLike,
    fars: Sequence[float] = CALIBRATION_FARS,
    n_boot: int = 1000,
    seed: int = 0,
    source: str = "",
) -> tuple[dict[str, Threshold], dict[str, str]]:
    """Cosine ``scores`` (P,), labels ``is_same`` (P,) -> (thresholds by FAR key, skipped FAR keys with the reason)."""
    from clusterface.evaluation.verification import tar_at_far

    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(is_same, dtype=bool).ravel()
    impostors = s[~y]
    n_imp, n_gen = int(impostors.size), int(y.sum())
    thresholds: dict[str, Threshold] = {}
    skipped: dict[str, str] = {}
    for point in tar_at_far(s, y, fars):
        key = far_key(point.far)
        if point.threshold is None or point.tar is None or point.achieved_far is None:
            skipped[key] = point.reason or "not reachable"
            continue
        threshold = float(point.threshold)
        if not np.isfinite(threshold):  # roc_curve's first point (accept nothing) has threshold inf
            threshold = float(np.nextafter(s.max(), np.inf))
        accepted = int((impostors >= threshold).sum())
        ci_low, ci_high = bootstrap_boundary(impostors, point.far, n_boot=n_boot, seed=seed)
        far_low, far_high = clopper_pearson(accepted, n_imp)
        thresholds[key] = Threshold(
            far=point.far,
            threshold=threshold,
            achieved_far=float(point.achieved_far),
            impostors_accepted=accepted,
            num_impostor=n_imp,
            num_genuine=n_gen,
            tar=float(point.tar),
            ci_low=ci_low,
            ci_high=ci_high,
            far_ci_low=far_low,
            far_ci_high=far_high,
            source=source,
        )
    return thresholds, skipped


def score_pairs(
    embedder: object,
    pairs: str | Path,
    images_root: str | Path | None = None,
    flip: bool = True,
    batch_size: int = 128,
    progress: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Cosine similarity and label of each pair of a ``.bin`` set or a ``pairs.txt`` over ``images_root``."""
    from clusterface.data.pairs import load_verification_set
    from clusterface.evaluation.extract import extract_embeddings
    from clusterface.evaluation.verification import pair_distances

    data = load_verification_set(pairs, images_root)
    feats = extract_embeddings(
        embedder,  # type: ignore[arg-type]
        data.images,
        flip=flip,
        batch_size=batch_size,
        progress=progress,
        desc=Path(pairs).stem,
    )
    return 1.0 - pair_distances(feats) / 2.0, np.asarray(data.issame, dtype=bool)
