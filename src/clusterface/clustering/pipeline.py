"""One entry point for every clustering method: features -> (kNN graph) -> cluster ids.

A table maps each method name to a function of (features, kNN provider, options); the
kNN graph is built only for the methods that need it, once, and can be passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from clusterface.clustering.algorithms import (
    agglomerative_clusters,
    connected_components_clusters,
    dbscan_clusters,
    infomap_clusters,
    kmeans_clusters,
)
from clusterface.clustering.knn import KNNGraph, KnnMethod, build_knn

DEFAULT_SIMILARITY_THRESHOLD = 0.5


@dataclass
class ClusteringOptions:
    """Parameters shared by the methods; each method reads the ones it needs.

    threshold: cosine similarity above which two faces may be linked. components and infomap
    keep kNN edges with cos ≥ threshold; DBSCAN uses eps = 1 − threshold (cosine distance);
    agglomerative stops merging at average cosine distance 1 − threshold (unless num_clusters
    is given). num_clusters: K for k-means (required there).
    """

    threshold: float = DEFAULT_SIMILARITY_THRESHOLD
    num_clusters: int | None = None
    k: int = 20
    knn_method: KnnMethod = "exact"
    min_samples: int = 3
    seed: int = 0


KnnProvider = Callable[[], KNNGraph]
Method = Callable[[NDArray[np.float32], KnnProvider, ClusteringOptions], NDArray[np.int64]]


def _kmeans(x: NDArray[np.float32], knn: KnnProvider, o: ClusteringOptions) -> NDArray[np.int64]:
    if o.num_clusters is None:
        raise ValueError("k-means needs the number of clusters (num_clusters)")
    return kmeans_clusters(x, o.num_clusters, seed=o.seed)


def _agglomerative(x: NDArray[np.float32], knn: KnnProvider, o: ClusteringOptions) -> NDArray[np.int64]:
    if o.num_clusters is not None:
        return agglomerative_clusters(x, knn(), num_clusters=o.num_clusters)
    return agglomerative_clusters(x, knn(), distance_threshold=1.0 - o.threshold)


#: The implementations of config.CLUSTER_METHODS (same names, same order; tests check it).
CLUSTERING_METHODS: dict[str, Method] = {
    "infomap": lambda x, knn, o: infomap_clusters(knn(), o.threshold, seed=o.seed),
    "components": lambda x, knn, o: connected_components_clusters(knn(), o.threshold),
    "dbscan": lambda x, knn, o: dbscan_clusters(knn(), eps=1.0 - o.threshold, min_samples=o.min_samples),
    "agglomerative": _agglomerative,
    "kmeans": _kmeans,
}


def cluster_features(
    features: NDArray[np.floating],
    method: str,
    options: ClusteringOptions | None = None,
    knn: KNNGraph | None = None,
) -> NDArray[np.int64]:
    """Cluster (N, d) features with a method of ``CLUSTERING_METHODS``; returns (N,) ids, noise as singletons."""
    if method not in CLUSTERING_METHODS:
        raise ValueError(f"unknown clustering method {method!r}; choose from {', '.join(CLUSTERING_METHODS)}")
    opts = options or ClusteringOptions()
    x = np.asarray(features, dtype=np.float32)
    cache: list[KNNGraph] = [knn] if knn is not None else []

    def provide() -> KNNGraph:
        if not cache:
            cache.append(build_knn(x, k=opts.k, method=opts.knn_method, seed=opts.seed))
        return cache[0]

    return CLUSTERING_METHODS[method](x, provide, opts)
