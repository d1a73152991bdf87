"""Analysis and reports: similarity histograms, ROC, concentration vs margin, t-SNE maps, reports."""

from clusterface.analysis.evaluate_model import (
    DEFAULT_CLUSTER_METHODS,
    ClusteringEvaluation,
    ModelEvaluation,
    cluster_face_set,
    evaluate_model,
    memory_arrays_from_checkpoint,
    write_comparison_report,
    write_evaluation_report,
)
from clusterface.analysis.plots import (
    class_dispersion,
    hardest_identities,
    plot_clustering_scores,
    plot_concentration_histogram,
    plot_concentration_vs_margin,
    plot_embedding_map,
    plot_roc,
    plot_similarity_histograms,
)

__all__ = [
    "DEFAULT_CLUSTER_METHODS",
    "ClusteringEvaluation",
    "ModelEvaluation",
    "class_dispersion",
    "cluster_face_set",
    "evaluate_model",
    "hardest_identities",
    "memory_arrays_from_checkpoint",
    "plot_clustering_scores",
    "plot_concentration_histogram",
    "plot_concentration_vs_margin",
    "plot_embedding_map",
    "plot_roc",
    "plot_similarity_histograms",
    "write_comparison_report",
    "write_evaluation_report",
]
