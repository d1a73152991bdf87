"""Checks that embeddings can be evaluated at all (finite, not collapsed)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


class DegenerateEmbeddingError(ValueError):
    """Embeddings or scores that cannot be evaluated (NaN/inf, or all identical)."""


def check_embeddings(
    embeddings: ArrayLike, what: str = "embeddings", allow_identical: bool = False
) -> NDArray[np.float32]:
    """Return ``embeddings`` (N, d) as float32 after checking they are finite and not all identical.

    A model that collapsed (every image mapped to the same vector) or produced NaN would
    otherwise score ~50% verification accuracy, which looks like a number; this is an error.
    ``allow_identical`` skips the collapse check (a user may well embed one photo twice).
    """
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] == 0:
        raise DegenerateEmbeddingError(f"{what}: expected a non-empty (N, d) array, got shape {emb.shape}")
    bad = ~np.isfinite(emb).all(axis=1)
    if bad.any():
        raise DegenerateEmbeddingError(
            f"{what}: {int(bad.sum())} of {len(emb)} embeddings contain NaN or inf (first at row {int(np.argmax(bad))})"
        )
    if (
        not allow_identical
        and len(emb) > 1
        and float(np.ptp(emb, axis=0).max()) <= 1e-6 * max(1.0, float(np.abs(emb).max()))
    ):
        raise DegenerateEmbeddingError(f"{what}: all {len(emb)} embeddings are identical (a collapsed model)")
    return emb
