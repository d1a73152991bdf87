"""Decoding to 8-bit RGB: every mode a face crop can come in (images made here with Pillow)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from data_helpers import encode, face_array
from PIL import Image

from clusterface.data import ImageDecodeError, decode_face, decode_image, read_face
from clusterface.data.decode import is_plain_jpeg, jpeg_components, pil_to_rgb


def pil_reference(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return pil_to_rgb(img)


def close(a: np.ndarray, b: np.ndarray, tol: float = 2.0) -> bool:
    return a.shape == b.shape and float(np.abs(a.astype(int) - b.astype(int)).mean()) <= tol


def test_rgb_jpeg_fast_path_agrees_with_pillow():
    arr = face_array(0)
    data = encode(arr)
    assert is_plain_jpeg(data) and jpeg_components(data) == 3
    out = decode_image(data)
    assert out.dtype == np.uint8 and out.shape == (112, 112, 3)
    assert close(out, pil_reference(data), 1.0)
    assert close(out, arr, 3.0)


def test_grayscale_jpeg_and_png():
    gray = face_array(1)[:, :, 0]
    for fmt in ("JPEG", "PNG"):
        data = encode(Image.fromarray(gray, "L"), fmt)
        out = decode_image(data)
        assert out.shape == (112, 112, 3)
        assert close(out, np.repeat(gray[:, :, None], 3, 2), 2.0)
    assert jpeg_components(encode(Image.fromarray(gray, "L"))) == 1


def test_palette_png_with_and_without_transparency():
    arr = face_array(2)
    pal = Image.fromarray(arr).quantize(64)
    data = encode(pal, "PNG")
    expected = np.asarray(pal.convert("RGB"))
    assert np.array_equal(decode_image(data), expected)
    pal.info["transparency"] = 0
    data = encode(pal, "PNG", transparency=0)
    out = decode_image(data)
    transparent = np.asarray(pal) == 0
    assert transparent.any()
    assert (out[transparent] == 0).all()  # composited onto black
    assert np.array_equal(out[~transparent], expected[~transparent])


def test_rgba_png_alpha_composited_on_black():
    arr = face_array(3)
    alpha = np.full((112, 112), 255, np.uint8)
    alpha[:, :56] = 0
    alpha[:10, 56:] = 128
    data = encode(Image.fromarray(np.dstack([arr, alpha]), "RGBA"), "PNG")
    out = decode_image(data)
    assert (out[:, :56] == 0).all()
    assert np.array_equal(out[10:, 56:], arr[10:, 56:])
    assert np.abs(out[:10, 56:].astype(int) - (arr[:10, 56:].astype(int) * 128 + 127) // 255).max() <= 1


def test_cmyk_jpeg():
    arr = face_array(4)
    data = encode(Image.fromarray(arr).convert("CMYK"))
    assert jpeg_components(data) == 4 and not is_plain_jpeg(data)
    assert close(decode_image(data), arr, 3.0)


def test_16bit_png_keeps_the_high_byte():
    a16 = (np.arange(112 * 112, dtype=np.uint32).reshape(112, 112) * 5).astype(np.uint16)
    data = encode(Image.fromarray(a16), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    out = decode_image(data)
    assert np.array_equal(out[:, :, 0], (a16 >> 8).astype(np.uint8))
    assert np.array_equal(out[:, :, 0], out[:, :, 2])
    assert out[:, :, 0].max() > 200  # not clipped to 255 nor squashed to 0..1


def test_exif_orientation_applied():
    arr = face_array(5)[:, :90]  # 112 x 90, so a rotation changes the shape
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    data = encode(Image.fromarray(arr), exif=exif)
    out = decode_image(data)
    assert out.shape == (90, 112, 3)
    assert close(out, np.rot90(arr, -1), 3.0)
    assert close(out, pil_reference(data), 1.0)
    face = decode_face(data)
    assert face.shape == (3, 112, 112)


def test_one_bit_and_la_modes():
    bits = face_array(6)[:, :, 0] > 127
    out = decode_image(encode(Image.fromarray(bits), "PNG"))
    assert np.array_equal(out[:, :, 1], bits.astype(np.uint8) * 255)
    la = Image.fromarray(np.dstack([face_array(6)[:, :, 0], np.full((112, 112), 255, np.uint8)]), "LA")
    assert np.array_equal(decode_image(encode(la, "PNG"))[:, :, 2], face_array(6)[:, :, 0])


def test_resize_to_112():
    data = encode(face_array(7, size=150))
    face = decode_face(data)
    assert face.shape == (3, 112, 112) and face.dtype == torch.uint8


def test_errors_name_the_file(tmp_path):
    data = encode(face_array(8))
    with pytest.raises(ImageDecodeError, match="broken.jpg: cannot decode"):
        decode_image(data[: len(data) // 2], "broken.jpg")
    with pytest.raises(ImageDecodeError, match="junk: cannot decode"):
        decode_image(b"not an image at all", "junk")
    with pytest.raises(ImageDecodeError, match="missing.png: cannot read"):
        read_face(tmp_path / "missing.png")


@pytest.mark.parametrize("size", [112, 90, 150])
def test_decode_face_fast_path_matches_general_path(size):
    from clusterface.data.decode import resize_to, to_chw_tensor

    data = encode(face_array(9, size=size))
    assert is_plain_jpeg(data)
    expected = to_chw_tensor(resize_to(decode_image(data), 112))
    assert torch.equal(decode_face(data), expected)
