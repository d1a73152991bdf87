"""Test stand-ins: checkpoints with either objective layout, a small .bin pair set."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

EMBEDDING_DIM = 64


def make_model(seed: int = 0) -> torch.nn.Module:
    from clusterface.models import create_backbone

    torch.manual_seed(seed)
    model = create_backbone("cfnet_s", embedding_dim=EMBEDDING_DIM)
    with torch.no_grad():  # trained-looking BatchNorm statistics, so eval mode is not the identity
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def make_checkpoint(path: Path, sharded: bool, seed: int = 0) -> Path:
    """A checkpoint as the trainer writes it; ``sharded`` stores the objective as per-rank class shards
    (a layout export must not care about), else replicated."""
    from clusterface.checkpoint import save_checkpoint
    from clusterface.config import Config, config_to_dict

    cfg = Config()
    cfg.model.embedding_dim = EMBEDDING_DIM
    model = make_model(seed)
    if sharded:
        objective = {
            "layout": "class-sharded",
            "world_size": 2,
            "rank": 0,
            "shard": {"weight": torch.randn(5, EMBEDDING_DIM), "class_offset": torch.tensor(0)},
        }
    else:
        objective = {"head.weight": torch.randn(10, EMBEDDING_DIM), "memory.centres": torch.randn(10, EMBEDDING_DIM)}
    state = {"config": config_to_dict(cfg), "backbone": model.state_dict(), "objective": objective, "step": 7}
    return save_checkpoint(state, path)


def face_like_images(n: int, seed: int = 0, size: int = 112) -> np.ndarray:
    """uint8 (n, 3, size, size) smooth random images (HWC-free, RGB)."""
    from clusterface.export import parity_images

    return parity_images(n, size=size, seed=seed).numpy()


def encode_png(chw: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(chw.transpose(1, 2, 0)[:, :, ::-1]))
    assert ok
    return buf.tobytes()


def make_bin(path: Path, n_pairs: int = 40, seed: int = 0) -> Path:
    """A .bin set: genuine pairs are an image and a slightly noised copy, impostors two random images."""
    from clusterface.data.bin_set import save_bin

    rng = np.random.default_rng(seed)
    base = face_like_images(2 * n_pairs, seed=seed)
    images, issame = [], []
    for i in range(n_pairs):
        a = base[2 * i]
        same = i % 2 == 0
        b = np.clip(a.astype(int) + rng.integers(-6, 7, a.shape), 0, 255).astype(np.uint8) if same else base[2 * i + 1]
        images += [encode_png(a), encode_png(b)]
        issame.append(same)
    return save_bin(path, images, issame)
