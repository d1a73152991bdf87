"""Clustered synthetic embeddings on the unit sphere, for tests and benchmarks of clustering."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def make_clustered_embeddings(
    num_points: int,
    num_clusters: int,
    dim: int = 512,
    spread: tuple[float, float] = (0.6, 1.1),
    family_size: int = 1,
    family_similarity: float = 0.4,
    size_skew: float = 1.0,
    seed: int = 0,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """(features (N, dim) unit rows, labels (N,)): K centres on the sphere plus isotropic noise.

    Cluster k has noise scale σ_k drawn uniformly from ``spread`` (each point is
    normalise(c_k + σ_k g / √dim), g ~ N(0, I), so cos(point, centre) ≈ 1/√(1+σ²)), which makes
    some clusters tight and some loose. With ``family_size`` > 1 the centres come in families of
    look-alikes whose centres have cosine ≈ ``family_similarity``. Cluster sizes follow a
    log-normal with shape ``size_skew`` (0 = equal sizes); every cluster has at least 2 points.
    """
    if num_points < 2 * num_clusters:
        raise ValueError(f"need at least 2 points per cluster: {num_points} points for {num_clusters} clusters")
    rng = np.random.default_rng(seed)
    num_families = -(-num_clusters // family_size)
    parents = rng.standard_normal((num_families, dim))
    parents /= np.linalg.norm(parents, axis=1, keepdims=True)
    own = rng.standard_normal((num_clusters, dim))
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    if family_size > 1:
        a = np.sqrt(family_similarity)
        centres = a * parents[np.arange(num_clusters) // family_size] + np.sqrt(1 - family_similarity) * own
    else:
        centres = own
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    weights = rng.lognormal(0.0, size_skew, num_clusters) if size_skew > 0 else np.ones(num_clusters)
    extra = num_points - 2 * num_clusters
    sizes = 2 + np.floor(weights / weights.sum() * extra).astype(np.int64)
    np.add.at(sizes, rng.choice(num_clusters, size=num_points - int(sizes.sum()), replace=True), 1)
    labels = np.repeat(np.arange(num_clusters, dtype=np.int64), sizes)
    sigma = rng.uniform(spread[0], spread[1], num_clusters)
    feats = np.empty((num_points, dim), dtype=np.float32)
    chunk = 65536
    for start in range(0, num_points, chunk):
        lab = labels[start : start + chunk]
        x = centres[lab] + sigma[lab, None] * rng.standard_normal((len(lab), dim)) / np.sqrt(dim)
        feats[start : start + chunk] = x / np.linalg.norm(x, axis=1, keepdims=True)
    order = rng.permutation(num_points)
    return feats[order], labels[order]
