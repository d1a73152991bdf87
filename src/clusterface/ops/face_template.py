"""The ArcFace 5-point template and the least-squares similarity onto it (alignment, IJB crops, SynthFaces)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: insightface's 5-point template for 112×112 crops, (x, y) pixels: eyes, nose tip, mouth corners.
ARCFACE_TEMPLATE: NDArray[np.float64] = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def similarity_transform(src: ArrayLike, dst: ArrayLike) -> NDArray[np.float64]:
    """2×3 least-squares similarity (rotation, uniform scale, shift; no reflection) mapping ``src`` (N, 2) onto ``dst``.

    Closed form in 2-D: with centred points s, d, ``a = Σ s·d / Σ|s|²`` and ``b = Σ s×d / Σ|s|²``
    give the linear part ``[[a, -b], [b, a]]``; this is Umeyama's (1991) estimate restricted to
    proper rotations, the one insightface's alignment uses. Returns ``M`` with ``dst ≈ M @ [x, y, 1]``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    norm = float((s**2).sum())
    if norm == 0:
        raise ValueError("degenerate landmarks (all at one point): no similarity transform")
    a = float((s * d).sum()) / norm
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / norm
    lin = np.array([[a, -b], [b, a]])
    return np.hstack([lin, (mu_d - lin @ mu_s)[:, None]])
