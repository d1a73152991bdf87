"""Classifier heads and the margins they take (ArcFace, CosFace, combined, cluster-guided)."""

from clusterface.heads.angular import cos_plus_margin, safe_acos
from clusterface.heads.arcface_margin import ArcFaceMargin
from clusterface.heads.cluster_guided_margin import ClusterGuidedMargin
from clusterface.heads.combined_margin import CombinedMargin
from clusterface.heads.cosface_margin import CosFaceMargin
from clusterface.heads.cosine_classifier import CosineClassifier
from clusterface.heads.margin import Margin

__all__ = [
    "ArcFaceMargin",
    "ClusterGuidedMargin",
    "CombinedMargin",
    "CosFaceMargin",
    "CosineClassifier",
    "Margin",
    "cos_plus_margin",
    "safe_acos",
]
