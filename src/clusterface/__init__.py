"""clusterface: face embeddings by joint label classification and supervised contrastive clustering."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clusterface.inference import FaceEmbedder

__version__ = "0.1.0"


def load(path: str | Path, **kwargs: Any) -> FaceEmbedder:
    """Load a face model — a checkpoint, an export folder, or any ONNX model — as a FaceEmbedder.

    See ``clusterface.inference.load`` for the options. Imported lazily, so ``import clusterface``
    stays cheap.
    """
    from clusterface.inference import load as _load

    return _load(path, **kwargs)


__all__ = ["__version__", "load"]
