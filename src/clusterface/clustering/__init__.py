"""Face clustering: kNN graphs (faiss), clustering algorithms, clustering metrics."""

from clusterface.clustering.algorithms import (
    agglomerative_clusters,
    connected_components_clusters,
    dbscan_clusters,
    infomap_clusters,
    kmeans_clusters,
)
from clusterface.clustering.knn import KNNGraph, build_knn
from clusterface.clustering.metrics import (
    PRF,
    bcubed_fscore,
    clustering_scores,
    nmi,
    noise_to_singletons,
    pairwise_fscore,
)
from clusterface.clustering.pipeline import CLUSTERING_METHODS, ClusteringOptions, cluster_features
from clusterface.clustering.synthetic import make_clustered_embeddings

__all__ = [
    "CLUSTERING_METHODS",
    "PRF",
    "ClusteringOptions",
    "KNNGraph",
    "agglomerative_clusters",
    "bcubed_fscore",
    "build_knn",
    "cluster_features",
    "clustering_scores",
    "connected_components_clusters",
    "dbscan_clusters",
    "infomap_clusters",
    "kmeans_clusters",
    "make_clustered_embeddings",
    "nmi",
    "noise_to_singletons",
    "pairwise_fscore",
]
