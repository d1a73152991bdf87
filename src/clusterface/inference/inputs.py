"""Whatever a user holds -> the uint8 ``(N, 3, S, S)`` RGB batch an embedder takes.

Accepted: a path (str / Path), encoded bytes, a PIL image, a uint8 array or tensor — ``(H, W, 3)``,
``(H, W)`` grayscale, ``(3, H, W)``, or a batch ``(N, H, W, 3)`` / ``(N, 3, H, W)`` — or a list of
any of these. Files and bytes go through ``clusterface.data.decode`` (the project's one decoder:
EXIF orientation, grayscale, alpha, CMYK, 16-bit); images not ``S×S`` are resized to it (they are
assumed to be aligned crops already; ``clusterface align`` makes them from photos).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from clusterface.data.decode import decode_image, pil_to_rgb, resize_to

ImageInput = Any  # str | Path | bytes | PIL.Image.Image | np.ndarray | torch.Tensor | a list of them


def _hwc_to_chw(rgb: np.ndarray, size: int) -> np.ndarray:
    return np.ascontiguousarray(resize_to(np.ascontiguousarray(rgb), size).transpose(2, 0, 1))


def _array_batch(arr: np.ndarray, size: int, name: str) -> np.ndarray:
    """A uint8 array of one image or a batch -> (N, 3, size, size)."""
    if arr.dtype != np.uint8:
        raise TypeError(f"{name}: expected uint8 pixels in [0, 255], got {arr.dtype} (convert with .astype(np.uint8))")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"{name}: expected (H, W, 3), (3, H, W) or a batch of them, got shape {arr.shape}")
    if arr.shape[-1] == 3:  # channels last
        return np.stack([_hwc_to_chw(im, size) for im in arr])
    if arr.shape[1] == 3:
        if arr.shape[2] == size and arr.shape[3] == size:
            return np.ascontiguousarray(arr)
        return np.stack([_hwc_to_chw(im.transpose(1, 2, 0), size) for im in arr])
    raise ValueError(f"{name}: no axis of size 3 (RGB) in shape {arr.shape}")


def _one(item: ImageInput, size: int, name: str) -> np.ndarray:
    """One input (possibly itself a batch) -> (n, 3, size, size)."""
    from PIL import Image

    if isinstance(item, str | Path):
        path = Path(item)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise FileNotFoundError(f"{path}: cannot read ({err.strerror or err})") from err
        return _hwc_to_chw(decode_image(data, str(path)), size)[None]
    if isinstance(item, bytes | bytearray | memoryview):
        return _hwc_to_chw(decode_image(bytes(item), name), size)[None]
    if isinstance(item, Image.Image):
        return _hwc_to_chw(pil_to_rgb(item), size)[None]
    if isinstance(item, torch.Tensor):
        return _array_batch(item.detach().cpu().numpy(), size, name)
    if isinstance(item, np.ndarray):
        return _array_batch(item, size, name)
    raise TypeError(f"{name}: cannot use a {type(item).__name__} as an image (path, bytes, PIL image or uint8 array)")


def is_single_image(images: ImageInput) -> bool:
    """True for one image (a path, bytes, PIL image, or a 2-D / 3-D array), False for a batch or list."""
    if isinstance(images, np.ndarray | torch.Tensor):
        return images.ndim <= 3
    return not isinstance(images, list | tuple)


def to_face_batch(images: ImageInput, size: int = 112) -> torch.Tensor:
    """Any accepted input (see the module docstring) -> uint8 tensor (N, 3, size, size), RGB."""
    items: Sequence[ImageInput] = images if isinstance(images, list | tuple) else [images]
    if not items:
        raise ValueError("no images given")
    parts = [_one(item, size, f"image {i}") for i, item in enumerate(items)]
    return torch.from_numpy(np.concatenate(parts) if len(parts) > 1 else parts[0])
