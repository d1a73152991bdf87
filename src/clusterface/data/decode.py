"""THE image decoder: any face crop to 8-bit RGB ``(H, W, 3)`` and to the ``(3, 112, 112)`` uint8 crop.

Training (datasets), evaluation (.bin sets, face folders, IJB), clustering and SynthFaces all
decode through this module, so a file gives the same pixels wherever it is read
(tests/data/test_data_decode_paths.py checks the train and eval entry points agree).

Every path ends in 8-bit RGB:

- plain JPEG (1 or 3 components, ending in an EOI marker) goes through ``cv2.imdecode``, about 3x
  faster than Pillow on 112x112 crops; OpenCV applies the EXIF orientation and expands grayscale,
  exactly as the Pillow path does (checked in tests/data/test_data_decode.py);
- everything else goes through Pillow: CMYK / YCCK JPEG (Adobe inversion handled by Pillow),
  truncated JPEG (Pillow raises instead of returning a half-grey image), PNG / BMP / WebP / TIFF /
  GIF in any mode. EXIF orientation is applied, grayscale / palette / ``1`` are expanded, alpha
  (RGBA, LA, palette transparency) is composited onto black (the colour under a transparent pixel
  is arbitrary), 16-bit samples keep their high byte (what libpng's 8-bit strip and OpenCV do).

Images larger than ``PIL.Image.MAX_IMAGE_PIXELS`` (89.5 M pixels) are refused from their header,
before any pixel is decoded (decompression bombs). Images that are not 112x112 are resized to it
(area averaging when shrinking, bilinear otherwise; aspect ratio not preserved): the field's
aligned crops are 112x112, and a crop of another size is assumed to be aligned already.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SIZE = 112
# Extensions an image folder may hold (lower case); anything else is ignored and reported.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"})

# JPEG start-of-frame markers (baseline, progressive, lossless, ...); C4/C8/CC are not SOF.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class ImageDecodeError(ValueError):
    """An image that cannot be decoded; the message names the file (or record)."""


def _reason(err: BaseException) -> str:
    if isinstance(err, UnidentifiedImageError):  # its message shows a BytesIO address: useless
        return "not a known image format, or the header is corrupt"
    return str(err) or type(err).__name__


def is_image_file(path: str | Path) -> bool:
    """True when ``path`` has one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def jpeg_components(data: bytes | memoryview) -> int | None:
    """Number of colour components in a JPEG's start-of-frame, or None when not found."""
    frame = jpeg_frame(data)
    return frame[0] if frame is not None else None


def jpeg_frame(data: bytes | memoryview) -> tuple[int, int, int] | None:
    """(components, height, width) from a JPEG's start-of-frame header, or None when not found."""
    n = len(data)
    pos = 2
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _SOF_MARKERS:
            if pos + 9 >= n:
                return None
            height, width = (data[pos + 5] << 8) | data[pos + 6], (data[pos + 7] << 8) | data[pos + 8]
            return data[pos + 9], height, width
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker == 0xDA:  # start of scan before any SOF: malformed
            return None
        pos += 2 + ((data[pos + 2] << 8) | data[pos + 3])
    return None


def is_plain_jpeg(data: bytes | memoryview) -> bool:
    """A complete (EOI-terminated) 1- or 3-component JPEG of at most ``PIL.Image.MAX_IMAGE_PIXELS``
    pixels: the OpenCV fast path decodes it exactly. Anything larger goes to Pillow, which refuses
    it from the header alone (a 20,000 x 20,000 JPEG of a few hundred bytes would otherwise make
    OpenCV allocate 1.2 GB before noticing the data is missing)."""
    if len(data) < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return False
    if data[-2] != 0xFF or data[-1] != 0xD9:  # maybe truncated: let Pillow decide and raise
        return False
    frame = jpeg_frame(data)
    if frame is None or frame[0] not in (1, 3):
        return False
    limit = Image.MAX_IMAGE_PIXELS
    return limit is None or frame[1] * frame[2] <= limit


def _decode_cv2(data: bytes | memoryview) -> np.ndarray | None:
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        return None
    return np.ascontiguousarray(bgr[:, :, ::-1])


def _high_byte(arr: np.ndarray) -> np.ndarray:
    """16- or 32-bit integer samples to 8 bits (high byte of 16-bit; 8-bit data kept)."""
    arr = np.asarray(arr)
    top = int(arr.max()) if arr.size else 0
    if top <= 255 and arr.dtype.itemsize > 2:  # 'I' images that only hold 8-bit values
        return arr.astype(np.uint8)
    if top <= 65535:
        return (arr.astype(np.uint32) >> 8).astype(np.uint8)
    return (arr.astype(np.float64) * (255.0 / top)).round().astype(np.uint8)


def _composite_on_black(img: Image.Image) -> np.ndarray:
    rgba = np.asarray(img.convert("RGBA"), dtype=np.uint16)
    rgb = (rgba[:, :, :3] * rgba[:, :, 3:4] + 127) // 255
    return rgb.astype(np.uint8)


def inspect_image(data: bytes | memoryview, name: str = "<bytes>") -> tuple[str, str, tuple[int, int]]:
    """(format, mode, (width, height)) from the image header, without decoding the pixels."""
    try:
        with Image.open(io.BytesIO(bytes(data))) as img:
            return str(img.format or "?"), str(img.mode), (int(img.width), int(img.height))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ImageDecodeError(f"{name}: not a readable image ({_reason(err)})") from err


def pil_to_rgb(img: Image.Image) -> np.ndarray:
    """A Pillow image in any mode to an 8-bit RGB ``(H, W, 3)`` array (orientation applied)."""
    img = ImageOps.exif_transpose(img) or img
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img)
    if mode.startswith("I;16") or mode == "I":
        gray = _high_byte(np.asarray(img))
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "F":
        gray = np.clip(np.asarray(img), 0, 255).round().astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info):
        return _composite_on_black(img)
    return np.asarray(img.convert("RGB"))


def decode_image(data: bytes | memoryview, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to 8-bit RGB ``(H, W, 3)`` (original size).

    Raises :class:`ImageDecodeError` naming ``name`` when the bytes are not a readable image.
    """
    if is_plain_jpeg(data):
        rgb = _decode_cv2(data)
        if rgb is not None:
            return rgb
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(bytes(data))) as img:
                img.load()
                rgb = pil_to_rgb(img)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageDecodeError(f"{name}: cannot decode image ({_reason(err)})") from err
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageDecodeError(f"{name}: decoded to an unusable shape {rgb.shape}")
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def resize_to(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Resize ``(H, W, C)`` uint8 to ``(size, size, C)``: area averaging when shrinking both sides,
    bilinear otherwise; returned unchanged when already that size."""
    if rgb.shape[0] == size and rgb.shape[1] == size:
        return rgb
    interpolation = cv2.INTER_AREA if rgb.shape[0] > size and rgb.shape[1] > size else cv2.INTER_LINEAR
    return cv2.resize(rgb, (size, size), interpolation=interpolation)


def to_chw_tensor(rgb: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 array to a contiguous ``(3, H, W)`` uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


def decode_face(data: bytes | memoryview, name: str = "<bytes>", size: int = IMAGE_SIZE) -> torch.Tensor:
    """Encoded bytes to the dataset item image: uint8 ``(3, size, size)`` RGB."""
    if is_plain_jpeg(data):
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if bgr is not None and bgr.ndim == 3 and bgr.shape[2] == 3 and bgr.dtype == np.uint8:
            bgr = resize_to(bgr, size)
            # BGR (H, W, 3) -> RGB (3, H, W) in a single copy (the hot path of training reads)
            return torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1)[::-1]))
    return to_chw_tensor(resize_to(decode_image(data, name), size))


def read_bytes(path: str | Path) -> bytes:
    """The bytes of an image file; an unreadable file is an :class:`ImageDecodeError` naming it."""
    path = Path(path)
    try:
        return path.read_bytes()
    except OSError as err:
        raise ImageDecodeError(f"{path}: cannot read ({err.strerror or err})") from err


def read_face(path: str | Path, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Read and decode an image file to uint8 ``(3, size, size)`` RGB; errors name the file."""
    return decode_face(read_bytes(path), str(path), size)


def decode_faces(encoded: Sequence[bytes], size: int = IMAGE_SIZE, name: str = "images") -> np.ndarray:
    """A batch of encoded images (a .bin set's, a face folder's) -> uint8 ``(N, 3, size, size)`` RGB."""
    out = np.empty((len(encoded), 3, size, size), dtype=np.uint8)
    for i, data in enumerate(encoded):
        out[i] = decode_face(data, f"{name}[{i}]", size).numpy()
    return out


def read_faces(paths: Iterable[str | Path], size: int = IMAGE_SIZE) -> np.ndarray:
    """Image files -> uint8 ``(N, 3, size, size)`` RGB; errors name the file."""
    files = list(paths)
    out = np.empty((len(files), 3, size, size), dtype=np.uint8)
    for i, path in enumerate(files):
        out[i] = read_face(path, size).numpy()
    return out
