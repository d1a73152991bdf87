"""Generic operations on embeddings, for torch tensors and numpy arrays alike (no clusterface imports)."""

from clusterface.ops.embeddings import DegenerateEmbeddingError, check_embeddings
from clusterface.ops.normalize import NORM_EPS, at_least_float32, l2_normalize

__all__ = ["NORM_EPS", "DegenerateEmbeddingError", "at_least_float32", "check_embeddings", "l2_normalize"]
