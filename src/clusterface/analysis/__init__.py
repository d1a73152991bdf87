"""Analysis and reports: similarity histograms, ROC, concentration vs margin, t-SNE maps, reports.

The evaluation that produces a ``ModelEvaluation`` is ``clusterface.workflows.evaluate_model``.
"""

from clusterface.analysis.comparison_report import write_comparison_report
from clusterface.analysis.evaluation_report import write_evaluation_report
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
from clusterface.analysis.results import ClusteringEvaluation, ModelEvaluation

__all__ = [
    "ClusteringEvaluation",
    "ModelEvaluation",
    "class_dispersion",
    "hardest_identities",
    "plot_clustering_scores",
    "plot_concentration_histogram",
    "plot_concentration_vs_margin",
    "plot_embedding_map",
    "plot_roc",
    "plot_similarity_histograms",
    "write_comparison_report",
    "write_evaluation_report",
]
