"""Face-clustering algorithms. Each returns (N,) int64 cluster ids; noise points become singletons.

- ``kmeans_clusters``: spherical k-means with a known K (``faiss.Kmeans``).
- ``connected_components_clusters``: keep kNN edges with cosine ≥ threshold, take connected
  components (``scipy.sparse.csgraph``).
- ``dbscan_clusters``: DBSCAN (``sklearn``, ``metric="precomputed"``) on the sparse cosine-distance
  kNN graph; −1 noise becomes singletons.
- ``agglomerative_clusters``: average-linkage agglomerative clustering on cosine distance
  (``sklearn``), restricted to kNN-graph edges (``connectivity``) so it scales past a few 10^4 points.
- ``infomap_clusters``: Infomap community detection (PyPI ``infomap``) on the kNN graph with edges
  of cosine ≥ threshold weighted by their similarity (as in "Face clustering by Infomap").
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.cluster import hierarchy
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import pdist

from clusterface.clustering.knn import KNNGraph
from clusterface.clustering.metrics import noise_to_singletons
from clusterface.ops import check_embeddings, l2_normalize


def _dense_ids(labels: NDArray[np.integer]) -> NDArray[np.int64]:
    """Noise to singletons, then ids renumbered 0..C−1 in order of first appearance."""
    lab = noise_to_singletons(labels)
    _, first, inverse = np.unique(lab, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse]


def kmeans_plus_plus(x: NDArray[np.float32], num_clusters: int, seed: int = 0) -> NDArray[np.float32]:
    """k-means++ seeds (Arthur & Vassilvitskii 2007) for unit rows: sample ∝ squared distance to the nearest seed."""
    rng = np.random.default_rng(seed)
    n = len(x)
    seeds = np.empty((num_clusters, x.shape[1]), dtype=np.float32)
    first = int(rng.integers(n))
    seeds[0] = x[first]
    best_cos = x @ x[first]
    for j in range(1, num_clusters):
        d2 = np.clip(2.0 - 2.0 * best_cos.astype(np.float64), 0.0, None)
        total = d2.sum()
        pick = int(rng.choice(n, p=d2 / total)) if total > 0 else int(rng.integers(n))
        seeds[j] = x[pick]
        np.maximum(best_cos, x @ x[pick], out=best_cos)
    return seeds


def kmeans_clusters(
    features: NDArray[np.floating],
    num_clusters: int,
    niter: int = 20,
    seed: int = 0,
    max_points_per_centroid: int = 256,
    plus_plus_limit: int = 10**6,
    restarts: int = 5,
) -> NDArray[np.int64]:
    """Spherical k-means (cosine) with a known number of clusters, ``faiss.Kmeans``.

    Seeds: when N·K ≤ ``plus_plus_limit``, k-means++ with ``restarts`` restarts, keeping the best
    objective (faiss's own random seeding often leaves two true clusters merged); above that,
    faiss's random seeding, since k-means++ costs K passes over the data.
    """
    import faiss

    x = np.ascontiguousarray(l2_normalize(check_embeddings(features, what="features")))
    if not 1 <= num_clusters <= len(x):
        raise ValueError(f"num_clusters must be in [1, {len(x)}], got {num_clusters}")
    km = faiss.Kmeans(
        x.shape[1],
        num_clusters,
        niter=niter,
        seed=seed,
        spherical=True,
        verbose=False,
        max_points_per_centroid=max_points_per_centroid,
        min_points_per_centroid=1,
    )
    if len(x) * num_clusters > plus_plus_limit:
        km.train(x)
        _, assign = km.index.search(x, 1)
        return _dense_ids(assign.ravel())
    best_obj, best_assign = -np.inf, None
    for restart in range(restarts):
        km.train(x, init_centroids=kmeans_plus_plus(x, num_clusters, seed + restart))
        sims, assign = km.index.search(x, 1)
        objective = float(sims.sum())  # spherical k-means maximises the summed cosine to the centroids
        if objective > best_obj:
            best_obj, best_assign = objective, assign
    assert best_assign is not None
    return _dense_ids(best_assign.ravel())


def connected_components_clusters(knn: KNNGraph, threshold: float) -> NDArray[np.int64]:
    """Connected components of the kNN graph after dropping edges with cosine < ``threshold``."""
    graph = knn.similarity_matrix(min_similarity=threshold)
    _, labels = connected_components(graph, directed=False)
    return _dense_ids(labels)


def dbscan_clusters(knn: KNNGraph, eps: float, min_samples: int = 2) -> NDArray[np.int64]:
    """DBSCAN over the kNN graph's cosine distances (only kNN edges count as neighbours)."""
    from sklearn.cluster import DBSCAN

    dist = knn.distance_matrix(max_distance=eps)
    labels = DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit_predict(dist)
    return _dense_ids(labels)


def agglomerative_clusters(
    features: NDArray[np.floating],
    knn: KNNGraph | None = None,
    num_clusters: int | None = None,
    distance_threshold: float | None = None,
    linkage: str = "average",
    dense_limit: int = 2048,
) -> NDArray[np.int64]:
    """Hierarchical agglomerative clustering on cosine distance.

    Give either ``num_clusters`` or ``distance_threshold`` (cosine distance 1 − cos at which merging
    stops). With a kNN graph, merges are restricted to its edges (``connectivity``), which keeps memory
    O(N k) instead of O(N²); without one, sklearn forms the full distance matrix (small N only).
    With a threshold, the kNN graph's connected components are clustered separately (merges never
    cross them): components of up to ``dense_limit`` points with exact linkage over all their pairs
    (scipy), larger ones with sklearn restricted to the kNN edges.
    """
    from sklearn.cluster import AgglomerativeClustering

    if (num_clusters is None) == (distance_threshold is None):
        raise ValueError("give exactly one of num_clusters and distance_threshold")
    x = l2_normalize(check_embeddings(features, what="features"))
    metric = "cosine" if linkage != "ward" else "euclidean"

    def fit(points: NDArray[np.float32], conn: sparse.csr_matrix | None, n_clusters: int | None) -> NDArray[np.int64]:
        model = AgglomerativeClustering(
            n_clusters=n_clusters,
            distance_threshold=distance_threshold,
            metric=metric,
            linkage=linkage,  # type: ignore[arg-type]
            connectivity=conn,
            compute_full_tree=True if distance_threshold is not None else "auto",
        )
        with warnings.catch_warnings():
            # "connectivity matrix has N > 1 components, completing it": expected for a fixed K (documented)
            warnings.filterwarnings("ignore", message=".*number of connected components.*")
            return np.asarray(model.fit_predict(points), dtype=np.int64)

    if knn is None:
        return _dense_ids(fit(x, None, num_clusters))
    connectivity = knn.similarity_matrix()
    connectivity.data[:] = 1.0
    n_comp, comp = connected_components(connectivity, directed=False)
    if n_comp == 1 or distance_threshold is None:
        # sklearn joins separate components itself (with O(N²) distances between them), which a
        # fixed number of clusters needs; with a distance threshold each component is clustered alone
        return _dense_ids(fit(x, connectivity, num_clusters))
    labels = np.empty(len(x), dtype=np.int64)
    order = np.argsort(comp, kind="stable")
    bounds = np.flatnonzero(np.diff(comp[order])) + 1
    next_id = 0
    for members in np.split(order, bounds):
        if len(members) == 1:
            labels[members] = next_id
            next_id += 1
            continue
        if len(members) <= dense_limit:
            # small component: exact linkage over all its pairs (scipy; no per-call sklearn overhead)
            tree = hierarchy.linkage(pdist(x[members], metric=metric), method=linkage)
            sub = hierarchy.fcluster(tree, t=float(distance_threshold), criterion="distance").astype(np.int64) - 1
        else:
            sub = fit(x[members], connectivity[members][:, members], None)
        labels[members] = sub + next_id
        next_id += int(sub.max()) + 1
    return _dense_ids(labels)


def infomap_clusters(knn: KNNGraph, threshold: float = 0.0, num_trials: int = 1, seed: int = 0) -> NDArray[np.int64]:
    """Infomap (two-level, undirected) on kNN edges with cosine ≥ ``threshold``, weighted by cosine."""
    from infomap import Infomap

    rows, cols, sims = knn.edges(min_similarity=max(threshold, 1e-6))
    im = Infomap(f"--two-level --silent --num-trials {num_trials} --seed {seed + 1}")
    if len(rows):
        im.add_edge_index(
            np.stack([rows, cols]), edge_weight=sims.astype(np.float64), num_nodes=knn.num_nodes, directed=False
        )
        im.run()
        # Read the partition from infomap's .clu output instead of its SWIG iterators: when faiss
        # (another SWIG module) is loaded first, infomap's Result.modules() iterator resolves to
        # faiss's iterator type and crashes the interpreter (seen with infomap 2.16 + faiss 1.15).
        with tempfile.TemporaryDirectory() as tmp:
            clu = Path(tmp) / "modules.clu"
            im.write_clu(str(clu))
            table = np.loadtxt(clu, comments="#", usecols=(0, 1), dtype=np.int64, ndmin=2)
    else:
        table = np.empty((0, 2), dtype=np.int64)
    labels = np.full(knn.num_nodes, -1, dtype=np.int64)
    labels[table[:, 0]] = table[:, 1]
    return _dense_ids(labels)


def knn_adjacency(knn: KNNGraph, min_similarity: float = -np.inf) -> sparse.csr_matrix:
    """Unweighted symmetric adjacency of the kNN graph (for plots and diagnostics)."""
    a = knn.similarity_matrix(min_similarity)
    a.data[:] = 1.0
    return a
