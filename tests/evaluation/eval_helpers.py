"""Shared helpers for the evaluation tests: colour-coded "faces" and a pooling backbone."""

import cv2
import numpy as np
import torch
from torch import nn

from clusterface.data.bin_set import save_bin


class MeanColour(nn.Module):
    """(B, 3, H, W) -> (B, 12): mean colour of each image quadrant; a face model for colour-coded faces."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(12))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        quads = x.reshape(b, c, 2, h // 2, 2, w // 2).mean(dim=(3, 5))  # (B, 3, 2, 2)
        return quads.reshape(b, 12) * self.scale


def colour_faces(num_ids: int, per_id: int, seed: int = 0, noise: float = 6.0):
    """uint8 (N, 3, 112, 112) RGB images; identity k has its own colour in each quadrant, plus noise.

    The quadrant colours are left-right symmetric so the flip test keeps identities apart.
    """
    rng = np.random.default_rng(seed)
    top = rng.uniform(20, 235, size=(num_ids, 3, 1, 1))
    bottom = rng.uniform(20, 235, size=(num_ids, 3, 1, 1))
    labels = np.repeat(np.arange(num_ids), per_id)
    base = np.concatenate([np.repeat(top, 56, axis=2), np.repeat(bottom, 56, axis=2)], axis=2)  # (K, 3, 112, 1)
    imgs = base[labels] + rng.normal(0, noise, size=(len(labels), 3, 112, 112))
    imgs += rng.normal(0, 4, size=(len(labels), 3, 1, 1))  # per-image colour cast
    return np.clip(imgs, 0, 255).astype(np.uint8), labels


def encode(img_chw_rgb: np.ndarray, ext: str = ".png") -> bytes:
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(img_chw_rgb.transpose(1, 2, 0)[:, :, ::-1]))
    assert ok
    return buf.tobytes()


def write_colour_bin(path):
    """A .bin with 100 pairs (alternating genuine / impostor) of colour-coded faces."""
    imgs, labels = colour_faces(20, 10, seed=1)
    rng = np.random.default_rng(2)
    images, issame = [], []
    for p in range(100):
        same = p % 2 == 0
        a = rng.integers(len(labels))
        if same:
            pool = np.flatnonzero((labels == labels[a]) & (np.arange(len(labels)) != a))
        else:
            pool = np.flatnonzero(labels != labels[a])
        b = rng.choice(pool)
        images += [encode(imgs[a], ".jpg"), encode(imgs[b], ".jpg")]
        issame.append(same)
    save_bin(path, images, issame)
    return path
