"""``FaceEmbedder``: a loaded face model with its metadata; ``embed``, ``similarity``, ``verify``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from clusterface.evaluation.embedder import Embedder
from clusterface.export.metadata import ModelMetadata, Threshold
from clusterface.inference.inputs import ImageInput, is_single_image, to_face_batch
from clusterface.ops import l2_normalize


class NoThresholdError(ValueError):
    """``verify`` was asked for a FAR the model has no calibrated threshold for."""


class FaceEmbedder:
    """A face model ready to use: preprocessing, flip test and thresholds come from its metadata.

    ``backend`` is the low-level Embedder (torch or onnxruntime) that maps uint8 crops
    (B, 3, S, S) to raw embeddings; a FaceEmbedder is itself an Embedder (``input_size`` and
    ``__call__``), so it can be passed to every evaluation and clustering function.
    """

    def __init__(self, backend: Embedder, metadata: ModelMetadata, source: str | Path, kind: str) -> None:
        self.backend = backend
        self.metadata = metadata
        self.source = Path(source)
        self.kind = kind  # "onnx" or "torch"
        self.input_size = int(getattr(backend, "input_size", metadata.input_size))

    def __repr__(self) -> str:
        m = self.metadata
        return (
            f"FaceEmbedder({str(self.source)!r}, {self.kind}, {m.embedding_size or '?'}-d, "
            f"flip={m.flip}, thresholds at FAR {sorted(m.thresholds) or 'none'})"
        )

    def __call__(self, images: torch.Tensor) -> NDArray[np.float32]:
        return self.backend(images)

    def embed(self, images: ImageInput, batch_size: int = 64, progress: bool = False) -> NDArray[np.float32]:
        """L2-normalised embeddings: (d,) for one image, (N, d) for a list or batch.

        Images are aligned face crops (paths, bytes, PIL images, uint8 arrays; see
        ``clusterface.inference.inputs``); the flip test is applied when the metadata asks for it.
        """
        from clusterface.evaluation.extract import extract_embeddings

        batch = to_face_batch(images, self.input_size)
        emb = extract_embeddings(
            self.backend,
            batch,
            flip=self.metadata.flip,
            batch_size=batch_size,
            normalize=True,
            progress=progress,
            allow_identical=True,
        )
        return emb[0] if is_single_image(images) else emb

    def _as_embeddings(self, x: ImageInput) -> NDArray[np.float32]:
        """Float arrays whose last axis is the embedding size are embeddings already; anything else is embedded."""
        is_float = (isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)) or (
            isinstance(x, torch.Tensor) and x.is_floating_point()
        )
        if is_float:
            arr = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
            if arr.ndim in (1, 2):
                return l2_normalize(arr)
        return self.embed(x)

    def similarity(self, a: ImageInput, b: ImageInput) -> float | NDArray[np.float32]:
        """Cosine similarity of ``a`` and ``b`` (images or embeddings): a float for two single images,
        else one value per pair (a batch against a single image broadcasts)."""
        ea, eb = self._as_embeddings(a), self._as_embeddings(b)
        if ea.shape[-1] != eb.shape[-1]:
            raise ValueError(f"embedding sizes differ: {ea.shape[-1]} vs {eb.shape[-1]}")
        sim = np.sum(ea * eb, axis=-1)
        return float(sim) if np.ndim(sim) == 0 else sim.astype(np.float32)

    def threshold(self, far: float = 1e-4) -> Threshold:
        """The calibrated threshold at ``far`` (NoThresholdError naming the fix when there is none)."""
        try:
            return self.metadata.threshold_for(far)
        except KeyError as err:
            raise NoThresholdError(f"{self.source}: {err.args[0]}") from err

    def verify(self, a: ImageInput, b: ImageInput, far: float = 1e-4) -> bool | NDArray[np.bool_]:
        """Same person? ``similarity(a, b) >= threshold`` calibrated at ``far``; a bool, or one per pair."""
        t = self.threshold(far).threshold
        sim = self.similarity(a, b)
        return bool(sim >= t) if isinstance(sim, float) else np.asarray(sim >= t)
