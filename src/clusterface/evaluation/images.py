"""Decoding encoded face crops (the JPEG/PNG bytes of .bin sets, files on disk) to uint8 RGB arrays."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

IMAGE_SIZE = 112


class ImageDecodeError(ValueError):
    """An encoded image that cannot be decoded; the message says which one."""


def decode_image(data: bytes, size: int = IMAGE_SIZE, name: str = "<bytes>") -> NDArray[np.uint8]:
    """Encoded image bytes -> uint8 (3, size, size) RGB; resized (bilinear) when it is not size x size."""
    buf = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if bgr is None:
        raise ImageDecodeError(f"{name}: cannot decode image ({len(data)} bytes)")
    if bgr.shape[0] != size or bgr.shape[1] != size:
        interp = cv2.INTER_AREA if min(bgr.shape[:2]) > size else cv2.INTER_LINEAR
        bgr = cv2.resize(bgr, (size, size), interpolation=interp)
    # OpenCV decodes to BGR; the whole project works in RGB (.bin sets are decoded to RGB by insightface too)
    rgb = bgr[:, :, ::-1]
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


def decode_images(encoded: Sequence[bytes], size: int = IMAGE_SIZE, name: str = "images") -> NDArray[np.uint8]:
    """A list of encoded images -> uint8 (N, 3, size, size) RGB."""
    out = np.empty((len(encoded), 3, size, size), dtype=np.uint8)
    for i, data in enumerate(encoded):
        out[i] = decode_image(data, size, name=f"{name}[{i}]")
    return out


def read_images(paths: Iterable[str | Path], size: int = IMAGE_SIZE) -> NDArray[np.uint8]:
    """Image files -> uint8 (N, 3, size, size) RGB."""
    files = [Path(p) for p in paths]
    out = np.empty((len(files), 3, size, size), dtype=np.uint8)
    for i, p in enumerate(files):
        try:
            data = p.read_bytes()
        except OSError as err:
            raise ImageDecodeError(f"{p}: cannot read ({err})") from err
        out[i] = decode_image(data, size, name=str(p))
    return out
