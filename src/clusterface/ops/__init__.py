"""Generic operations for torch tensors and numpy arrays alike (no clusterface imports).

The names are loaded on first use: ``clusterface.ops.face_template`` (numpy only) is imported by
SynthFaces' worker processes, which must not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clusterface.ops.embeddings import DegenerateEmbeddingError, check_embeddings
    from clusterface.ops.face_template import ARCFACE_TEMPLATE, similarity_transform
    from clusterface.ops.normalize import NORM_EPS, at_least_float32, l2_normalize

_MODULE_OF = {
    "DegenerateEmbeddingError": "embeddings",
    "check_embeddings": "embeddings",
    "ARCFACE_TEMPLATE": "face_template",
    "similarity_transform": "face_template",
    "NORM_EPS": "normalize",
    "at_least_float32": "normalize",
    "l2_normalize": "normalize",
}

__all__ = [
    "ARCFACE_TEMPLATE",
    "NORM_EPS",
    "DegenerateEmbeddingError",
    "at_least_float32",
    "check_embeddings",
    "l2_normalize",
    "similarity_transform",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'clusterface.ops' has no attribute {name!r}")
    return getattr(importlib.import_module(f"clusterface.ops.{_MODULE_OF[name]}"), name)
