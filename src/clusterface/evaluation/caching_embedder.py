"""An Embedder that embeds each distinct image once.

A verification set draws its pairs from a few thousand face images, each used in several
pairs (SynthFaces: 6,000 pairs over ~1,700 test images), and the clustering set is those same
images again. Wrapping the model in ``CachingEmbedder`` makes one evaluation of both embed every
distinct crop once (flipped crops are distinct crops) instead of ~8 times; the metrics are those
of the wrapped embedder (the model runs in eval mode, so an image's embedding does not depend on
the other images of its batch).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from numpy.typing import NDArray

from clusterface.evaluation.embedder import Embedder


class CachingEmbedder:
    """Wraps an Embedder; remembers the embedding of every crop it has seen, keyed by the crop's bytes.

    ``calls`` / ``embedded`` count the batches passed on to the wrapped embedder and the crops in them.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.input_size = inner.input_size
        self._cache: dict[bytes, NDArray[np.float32]] = {}
        self.calls = 0
        self.embedded = 0

    def __call__(self, images: torch.Tensor) -> NDArray[np.float32]:
        """(B, 3, H, W) uint8 -> (B, d) float32, embedding only the crops not seen before."""
        batch = images.contiguous().cpu().numpy()
        keys = [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in batch]
        first_index: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            first_index.setdefault(k, i)
        todo = [i for k, i in first_index.items() if k not in self._cache]
        if todo:
            out = np.asarray(self.inner(images[todo]), dtype=np.float32)
            self.calls += 1
            self.embedded += len(todo)
            for i, row in zip(todo, out, strict=True):
                self._cache[keys[i]] = row
        return np.stack([self._cache[k] for k in keys])

    def __len__(self) -> int:
        return len(self._cache)
