"""Evaluation: embedding extraction (torch or ONNX), 10-fold verification, TAR@FAR, IJB-B/C templates."""

from clusterface.evaluation.bin_eval import (
    PairEvaluation,
    evaluate_bin,
    evaluate_pairs,
    periodic_bin_evaluation,
    score_bin,
)
from clusterface.evaluation.embedder import Embedder, OnnxEmbedder, TorchEmbedder, as_embedder, load_embedder
from clusterface.evaluation.extract import extract_embeddings
from clusterface.evaluation.ijb import IJBFormatError, IJBMeta, IJBResult, evaluate_ijb, read_ijb_meta
from clusterface.evaluation.verification import (
    DEFAULT_FARS,
    DEFAULT_THRESHOLDS,
    TarAtFar,
    VerificationResult,
    kfold_slices,
    pair_distances,
    tar_at_far,
    tar_at_far_dict,
    verification_10fold,
)
from clusterface.ops import DegenerateEmbeddingError, check_embeddings

__all__ = [
    "DEFAULT_FARS",
    "DEFAULT_THRESHOLDS",
    "DegenerateEmbeddingError",
    "Embedder",
    "IJBFormatError",
    "IJBMeta",
    "IJBResult",
    "OnnxEmbedder",
    "PairEvaluation",
    "TarAtFar",
    "TorchEmbedder",
    "VerificationResult",
    "as_embedder",
    "check_embeddings",
    "evaluate_bin",
    "evaluate_ijb",
    "evaluate_pairs",
    "extract_embeddings",
    "kfold_slices",
    "load_embedder",
    "pair_distances",
    "periodic_bin_evaluation",
    "read_ijb_meta",
    "score_bin",
    "tar_at_far",
    "tar_at_far_dict",
    "verification_10fold",
]
