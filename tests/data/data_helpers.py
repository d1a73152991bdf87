"""Helpers for the data-format tests: small, deterministic images written with Pillow."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def face_array(seed: int, size: int = 112) -> np.ndarray:
    """A smooth, distinctive RGB image (JPEG-friendly) for a seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    chans = [
        127 + 120 * np.sin(2 * np.pi * (rng.uniform(0.5, 3) * xx + rng.uniform(0.5, 3) * yy + rng.uniform()))
        for _ in range(3)
    ]
    return np.clip(np.stack(chans, axis=-1), 0, 255).astype(np.uint8)


def encode(arr_or_img: np.ndarray | Image.Image, fmt: str = "JPEG", **kw: object) -> bytes:
    img = arr_or_img if isinstance(arr_or_img, Image.Image) else Image.fromarray(arr_or_img)
    buf = io.BytesIO()
    if fmt == "JPEG":
        kw.setdefault("quality", 95)
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def write_folder(root: Path, sizes: list[int], seed: int = 0, fmt: str = "JPEG") -> list[tuple[Path, int]]:
    """root/id_XX/NNN.jpg with sizes[k] images for identity k; returns (path, label) in label order."""
    out = []
    ext = ".jpg" if fmt == "JPEG" else "." + fmt.lower()
    for k, n in enumerate(sizes):
        d = root / f"id_{k:02d}"
        d.mkdir(parents=True, exist_ok=True)
        for j in range(n):
            p = d / f"{j:03d}{ext}"
            p.write_bytes(encode(face_array(seed + 1000 * k + j), fmt))
            out.append((p, k))
    return out
