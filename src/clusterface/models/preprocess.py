"""Image batch preprocessing shared by training, evaluation and export."""

from __future__ import annotations

import torch


def normalize_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) RGB in [0, 255] -> float32 in [-1, 1], as insightface: (x - 127.5) / 127.5."""
    if images.dtype != torch.uint8:
        raise TypeError(f"normalize_images expects uint8 images, got {images.dtype}")
    return images.float().sub_(127.5).div_(127.5)
