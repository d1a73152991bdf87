"""L2 normalisation with one norm floor for tensors (training) and arrays (evaluation, clustering)."""

from __future__ import annotations

from typing import overload

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike, NDArray

#: Norm floor: x / max(||x||, NORM_EPS). A zero vector maps to the zero vector (all cosines 0);
#: real embeddings have norms many orders of magnitude above it.
NORM_EPS = 1e-6


@overload
def l2_normalize(x: torch.Tensor, dim: int = -1) -> torch.Tensor: ...
@overload
def l2_normalize(x: ArrayLike, dim: int = -1) -> NDArray[np.float32]: ...
def l2_normalize(x: torch.Tensor | ArrayLike, dim: int = -1) -> torch.Tensor | NDArray[np.float32]:
    """``x / max(||x||, NORM_EPS)`` along ``dim``.

    A tensor stays a tensor (same dtype, differentiable); anything else becomes a float32 numpy
    array, e.g. (N, d) features -> (N, d) unit rows.
    """
    if isinstance(x, torch.Tensor):
        return F.normalize(x, p=2.0, dim=dim, eps=NORM_EPS)
    arr = np.asarray(x, dtype=np.float32)
    return arr / np.maximum(np.linalg.norm(arr, axis=dim, keepdims=True), np.float32(NORM_EPS))


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """Upcast half/bfloat16 to float32; keep float32/float64 as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
