"""ONNX-vs-torch parity: the exported graph must give the embeddings the torch backbone gives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

PARITY_IMAGES = 256
PARITY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class ParityResult:
    """Max abs difference of L2-normalised embeddings (torch vs onnxruntime) over ``num_images``."""

    num_images: int
    max_abs_diff: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff < self.tolerance


class ParityError(RuntimeError):
    """The ONNX model's embeddings differ from the torch model's beyond the tolerance."""


def parity_images(n: int = PARITY_IMAGES, size: int = 112, seed: int = 0) -> torch.Tensor:
    """Deterministic uint8 test images (N, 3, size, size): smooth random fields plus noise, so the
    activations span the range real crops give (pure noise would leave some BatchNorm channels idle)."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 8, 8, generator=gen) * 255
    smooth = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    noise = torch.randn(n, 3, size, size, generator=gen) * 20
    return (smooth + noise).clamp(0, 255).round().to(torch.uint8)


def check_parity(
    model: nn.Module,
    onnx_path: str | Path,
    images: torch.Tensor | None = None,
    tolerance: float = PARITY_TOLERANCE,
    batch_size: int = 64,
) -> ParityResult:
    """Embed ``images`` (uint8 (N, 3, S, S); default 256 from ``parity_images``) with both; compare normalised."""
    from clusterface.evaluation.embedder import OnnxEmbedder, TorchEmbedder
    from clusterface.ops import l2_normalize

    ort_embedder = OnnxEmbedder(onnx_path)
    if images is None:
        images = parity_images(size=ort_embedder.input_size)
    torch_embedder = TorchEmbedder(model, device="cpu", input_size=ort_embedder.input_size)
    diffs = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        a = l2_normalize(torch_embedder(batch))
        b = l2_normalize(ort_embedder(batch))
        diffs.append(float(np.abs(a - b).max()))
    return ParityResult(len(images), max(diffs), tolerance)
