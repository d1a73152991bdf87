"""Face clustering: kNN graphs (faiss), clustering algorithms, clustering metrics."""

from clusterface.clustering.metrics import (
    PRF,
    bcubed_fscore,
    clustering_scores,
    nmi,
    noise_to_singletons,
    pairwise_fscore,
)

__all__ = ["PRF", "bcubed_fscore", "clustering_scores", "nmi", "noise_to_singletons", "pairwise_fscore"]
