"""Verification on an insightface ``.bin`` set: decode, embed with the flip test, score the pairs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from torch import nn

from clusterface.evaluation.embedder import Embedder, as_embedder
from clusterface.evaluation.extract import extract_embeddings
from clusterface.evaluation.verification import (
    DEFAULT_FARS,
    TarAtFar,
    VerificationResult,
    pair_distances,
    tar_at_far,
    tar_at_far_dict,
    verification_10fold,
)


@dataclass
class PairEvaluation:
    """Verification of one pair set: the 10-fold result, TAR@FAR, and the per-pair scores for plots."""

    name: str
    verification: VerificationResult
    tar: list[TarAtFar]
    scores: NDArray[np.float64] = field(repr=False)  # cosine similarity per pair (= 1 − dist/2)
    issame: NDArray[np.bool_] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready summary (accuracies are fractions in [0, 1])."""
        v = self.verification
        return {
            "name": self.name,
            "accuracy": v.accuracy_mean,
            "accuracy_std": v.accuracy_std,
            "best_threshold": v.best_threshold,
            "fold_accuracies": v.fold_accuracies,
            "val_at_far": v.val,
            "val_std": v.val_std,
            "val_far": v.far,
            "val_far_target": v.far_target,
            "tar_at_far": tar_at_far_dict(self.tar),
            "tar_at_far_unreachable": {f"{t.far:.0e}": t.reason for t in self.tar if t.tar is None},
            "num_pairs": v.num_pairs,
            "num_genuine": v.num_genuine,
            "num_impostor": v.num_impostor,
        }


def evaluate_pairs(
    features: NDArray[np.float32],
    issame: Sequence[bool] | NDArray[np.bool_],
    name: str = "pairs",
    fars: Sequence[float] = DEFAULT_FARS,
) -> PairEvaluation:
    """Score L2-normalised features (2P, d), pairs (2i, 2i+1), with the 10-fold protocol and TAR@FAR."""
    same = np.asarray(issame, dtype=bool)
    dist = pair_distances(features)
    if dist.size != same.size:
        raise ValueError(f"{name}: {dist.size} pairs of features for {same.size} labels")
    verification = verification_10fold(dist, same)
    scores = 1.0 - dist / 2.0  # cosine similarity of unit vectors
    return PairEvaluation(name, verification, tar_at_far(scores, same, fars), scores, same)


def score_bin(
    model: nn.Module | Embedder | str | Path,
    bin_path: str | Path,
    batch_size: int = 128,
    flip: bool = True,
    fars: Sequence[float] = DEFAULT_FARS,
    progress: bool = True,
) -> PairEvaluation:
    """Evaluate a backbone / Embedder / model file on a ``.bin`` set; keeps the per-pair scores."""
    from clusterface.data.bin_set import load_bin

    bin_path = Path(bin_path)
    data = load_bin(bin_path)
    features = extract_embeddings(
        as_embedder(model), data.images, flip=flip, batch_size=batch_size, progress=progress, desc=bin_path.stem
    )
    return evaluate_pairs(features, data.issame, name=bin_path.stem, fars=fars)


def evaluate_bin(
    model: nn.Module | Embedder | str | Path,
    bin_path: str | Path,
    batch_size: int = 128,
    flip: bool = True,
    fars: Sequence[float] = DEFAULT_FARS,
    progress: bool = True,
) -> dict[str, Any]:
    """Verification metrics of a model on a ``.bin`` set as a plain dict.

    ``model`` may be a backbone (nn.Module; its train/eval mode is restored afterwards), an
    Embedder, or a path to a checkpoint / ONNX file. Keys: ``accuracy`` and ``accuracy_std``
    (10-fold, fractions), ``best_threshold``, ``val_at_far`` (VAL@FAR=1e-3), ``tar_at_far``
    (``{"1e-03": tar or None}``), ``num_pairs``, ... Raises DegenerateEmbeddingError for NaN
    or collapsed embeddings.
    """
    return score_bin(model, bin_path, batch_size, flip, fars, progress).to_dict()


def periodic_bin_evaluation(
    bin_path: str | Path, batch_size: int = 128, flip: bool = True
) -> Callable[[nn.Module], dict[str, float]]:
    """The trainer's ``evaluate_fn``: verification of the backbone on ``bin_path``, numeric results only."""

    def evaluate(model: nn.Module) -> dict[str, float]:
        results = evaluate_bin(model, bin_path, batch_size=batch_size, flip=flip, progress=False)
        return {k: v for k, v in results.items() if isinstance(v, int | float)}

    return evaluate
