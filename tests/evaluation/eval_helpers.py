"""Shared helpers for the evaluation tests: colour-coded "faces" and a pooling backbone."""

import itertools

import cv2
import numpy as np
import torch
from torch import nn

from clusterface.data.bin_set import save_bin
from clusterface.evaluation.ijb import ARCFACE_TEMPLATE


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


def make_ijb(root, name="ijbc", num_ids=12, seed=0, loose_every=5):
    """IJB-shaped set: per identity 2 templates x 2 media x 1-2 images; all template pairs."""
    rng = np.random.default_rng(seed)
    imgs, labels = colour_faces(num_ids, 8, seed=seed)
    (root / "meta").mkdir(parents=True)
    (root / "loose_crop").mkdir()
    tid_lines, lmk_lines = [], []
    template_identity = {}
    media = 0
    img_no = 0
    for ident in range(num_ids):
        pool = list(np.flatnonzero(labels == ident))
        for t in range(2):
            tid = 1000 + 2 * ident + t
            template_identity[tid] = ident
            for _ in range(2):
                media += 1
                for _ in range(int(rng.integers(1, 3))):
                    img = imgs[pool.pop()]
                    name_i = f"{img_no}.jpg"
                    bgr = np.ascontiguousarray(img.transpose(1, 2, 0)[:, :, ::-1])
                    lmk = ARCFACE_TEMPLATE.copy()
                    if img_no % loose_every == 0:  # a loose crop: 150x150 that must be aligned
                        bgr = cv2.resize(bgr, (150, 150), interpolation=cv2.INTER_LINEAR)
                        lmk = ARCFACE_TEMPLATE * 150 / 112
                    cv2.imwrite(str(root / "loose_crop" / name_i), bgr)
                    tid_lines.append(f"{name_i} {tid} {media}")
                    score = rng.uniform(0.5, 1.0)
                    lmk_lines.append(name_i + " " + " ".join(f"{v:.3f}" for v in lmk.ravel()) + f" {score:.4f}")
                    img_no += 1
    pair_lines = [
        f"{a} {b} {int(template_identity[a] == template_identity[b])}"
        for a, b in itertools.combinations(sorted(template_identity), 2)
    ]
    (root / "meta" / f"{name}_face_tid_mid.txt").write_text("\n".join(tid_lines) + "\n")
    (root / "meta" / f"{name}_name_5pts_score.txt").write_text("\n".join(lmk_lines) + "\n")
    (root / "meta" / f"{name}_template_pair_label.txt").write_text("\n".join(pair_lines) + "\n")
    return root


def write_image_folder(root, num_ids=8, per_id=6, seed=3):
    """ROOT/<identity>/<n>.jpg of colour-coded faces; returns (root, labels)."""
    imgs, labels = colour_faces(num_ids, per_id, seed=seed)
    for i, (img, lab) in enumerate(zip(imgs, labels, strict=True)):
        d = root / f"id{lab:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i}.jpg").write_bytes(encode(img, ".jpg"))
    return root, labels
