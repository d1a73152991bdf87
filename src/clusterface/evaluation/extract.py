"""Batched embedding extraction with the flip test (docs/method.md, Evaluation protocols)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from tqdm.auto import tqdm

from clusterface.data.decode import IMAGE_SIZE, decode_faces
from clusterface.evaluation.embedder import Embedder
from clusterface.ops import check_embeddings, l2_normalize


def extract_embeddings(
    embedder: Embedder,
    images: ArrayLike | torch.Tensor | Sequence[bytes],
    flip: bool = True,
    batch_size: int = 128,
    normalize: bool = True,
    progress: bool = True,
    desc: str = "embedding",
    allow_identical: bool = False,
) -> NDArray[np.float32]:
    """uint8 RGB crops (N, 3, H, W), or a list of encoded images (decoded batch by batch) -> features (N, d).

    With ``flip`` the feature is ``emb(img) + emb(hflip(img))`` (insightface's evaluation);
    with ``normalize`` it is then L2-normalised. Raises DegenerateEmbeddingError on NaN/inf
    or when every feature is the same (unless ``allow_identical``).
    """
    encoded = isinstance(images, list | tuple) and len(images) > 0 and isinstance(images[0], bytes | bytearray)
    if encoded:
        n = len(images)  # type: ignore[arg-type]
    else:
        imgs = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
        if imgs.dtype != torch.uint8 or imgs.ndim != 4 or imgs.shape[1] != 3:
            raise ValueError(f"expected uint8 images (N, 3, H, W), got {tuple(imgs.shape)} {imgs.dtype}")
        n = imgs.shape[0]
    if n == 0:
        raise ValueError("no images to embed")
    size = getattr(embedder, "input_size", IMAGE_SIZE)
    chunks: list[NDArray[np.float32]] = []
    bar = tqdm(total=n, desc=desc, unit="img", disable=not progress, leave=False)
    try:
        for start in range(0, n, batch_size):
            if encoded:
                part = images[start : start + batch_size]  # type: ignore[index]
                batch = torch.from_numpy(decode_faces(list(part), size=size, name=desc))  # type: ignore[arg-type]
            else:
                batch = imgs[start : start + batch_size]
            emb = np.asarray(embedder(batch), dtype=np.float32)
            if flip:
                emb = emb + np.asarray(embedder(torch.flip(batch, dims=[3])), dtype=np.float32)
            chunks.append(emb)
            bar.update(batch.shape[0])
    finally:
        bar.close()
    feats = check_embeddings(np.concatenate(chunks), what=desc, allow_identical=allow_identical)
    return l2_normalize(feats) if normalize else feats
