"""k-nearest-neighbour graphs of L2-normalised features with faiss (inner product = cosine).

Exact search uses ``IndexFlatIP``; approximate search uses ``IndexHNSWFlat`` (graph-based)
or ``IndexIVFFlat`` (inverted lists), both with the inner-product metric. Queries run in
chunks of ``chunk_size`` rows, so the (chunk, k) results are the only per-query memory:
the full N x N similarity matrix is never formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from clusterface.config.schema import KnnMethod
from clusterface.ops import check_embeddings, l2_normalize

__all__ = ["KNNGraph", "KnnMethod", "build_knn"]


@dataclass
class KNNGraph:
    """Each row i: the ids of i's k nearest neighbours (itself excluded) and their cosine similarities.

    indices (N, k) int64, −1 where fewer than k neighbours were found; similarities (N, k) float32,
    sorted from most to least similar.
    """

    indices: NDArray[np.int64]
    similarities: NDArray[np.float32]

    @property
    def num_nodes(self) -> int:
        return int(self.indices.shape[0])

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def edges(
        self, min_similarity: float = -np.inf
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
        """Directed edges (source, target, similarity) with similarity ≥ ``min_similarity``."""
        rows = np.repeat(np.arange(self.num_nodes, dtype=np.int64), self.k)
        cols = self.indices.ravel()
        sims = self.similarities.ravel()
        keep = (cols >= 0) & (sims >= min_similarity) & (cols != rows)
        return rows[keep], cols[keep], sims[keep]

    def similarity_matrix(self, min_similarity: float = -np.inf) -> sparse.csr_matrix:
        """Symmetric sparse (N, N) similarity graph (max of both directions) over the kNN edges."""
        r, c, s = self.edges(min_similarity)
        a = sparse.csr_matrix((s.astype(np.float64), (r, c)), shape=(self.num_nodes, self.num_nodes))
        return a.maximum(a.T).tocsr()

    def distance_matrix(self, max_distance: float = np.inf) -> sparse.csr_matrix:
        """Symmetric sparse cosine-distance graph ``1 − sim`` over the kNN edges with distance ≤ max_distance.

        Distances are floored at 1e-8: a stored 0 would be indistinguishable from "no edge" for
        code that drops explicit zeros.
        """
        r, c, s = self.edges(min_similarity=1.0 - max_distance if np.isfinite(max_distance) else -np.inf)
        d = np.maximum(1.0 - s.astype(np.float64), 1e-8)
        a = sparse.csr_matrix((d, (r, c)), shape=(self.num_nodes, self.num_nodes))
        # symmetrise: cosine is symmetric, so the two directions (where both exist) hold the same value
        return a.maximum(a.T).tocsr()


def _make_index(dim: int, method: KnnMethod, n: int, hnsw_m: int, nlist: int | None):  # type: ignore[no-untyped-def]
    import faiss

    if method == "exact":
        return faiss.IndexFlatIP(dim)
    if method == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        return index
    if method == "ivf":
        lists = nlist or max(1, min(int(4 * np.sqrt(n)), n // 39))
        return faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
    raise ValueError(f"unknown kNN method {method!r}; use exact, hnsw or ivf")


def build_knn(
    features: NDArray[np.floating],
    k: int = 20,
    method: KnnMethod = "exact",
    chunk_size: int = 8192,
    hnsw_m: int = 32,
    ef_search: int | None = None,
    nlist: int | None = None,
    nprobe: int = 16,
    seed: int = 0,
) -> KNNGraph:
    """kNN graph of (N, d) features by cosine similarity (features are L2-normalised here).

    method: "exact" (IndexFlatIP), "hnsw" (IndexHNSWFlat, efSearch = ef_search or max(2k, 64)) or
    "ivf" (IndexIVFFlat with ``nlist`` lists, default ~4√N, searching ``nprobe`` of them).
    """

    x = l2_normalize(check_embeddings(features, what="features"))
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, dim = x.shape
    k_eff = min(k, n - 1)
    if k_eff < 1:
        raise ValueError(f"need at least 2 features for a kNN graph, got {n}")
    index = _make_index(dim, method, n, hnsw_m, nlist)
    if method == "ivf":
        rng = np.random.default_rng(seed)
        # 64 points per list and 10 k-means iterations train the coarse quantiser well enough for
        # neighbour search and keep training a small part of the total time at N = 10^5
        sample = x[rng.choice(n, size=min(n, 64 * index.nlist), replace=False)]
        index.cp.seed = seed
        index.cp.niter = 10
        index.cp.min_points_per_centroid = 1
        index.train(sample)
        index.nprobe = min(nprobe, index.nlist)
    if method == "hnsw":
        index.hnsw.efSearch = ef_search or max(2 * (k_eff + 1), 64)
    index.add(x)
    indices = np.empty((n, k_eff), dtype=np.int64)
    sims = np.empty((n, k_eff), dtype=np.float32)
    for start in range(0, n, chunk_size):
        q = x[start : start + chunk_size]
        d, i = index.search(q, k_eff + 1)
        rows = np.arange(start, start + len(q))
        # drop the query itself wherever it appears (approximate search may miss it or tie it)
        not_self = i != rows[:, None]
        # keep the first k_eff non-self hits per row (stable: order of similarity)
        order = np.argsort(~not_self, axis=1, kind="stable")[:, :k_eff]
        i_sel = np.take_along_axis(i, order, axis=1)
        d_sel = np.take_along_axis(d, order, axis=1)
        i_sel[i_sel == rows[:, None]] = -1
        indices[start : start + len(q)] = i_sel
        sims[start : start + len(q)] = np.where(i_sel >= 0, d_sel, -np.inf)
    return KNNGraph(indices, sims)
