"""Hostile and broken images (docs/reliability.md): every one ends in decoded pixels or an ImageDecodeError
naming the file; decompression bombs are refused from the header, before any pixel is decoded."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from data_helpers import encode, face_array
from PIL import Image

from clusterface.data import ImageFolderDataset, index_image_folder
from clusterface.data import decode as decode_module
from clusterface.data.decode import ImageDecodeError, decode_face, decode_image, read_face


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small, complete (EOI-terminated) JPEG whose frame header claims ``width x height``."""
    data = bytearray(encode(face_array(0, 16)))
    pos = 2
    while data[pos + 1] not in (0xC0, 0xC1, 0xC2):
        pos += 2 + ((data[pos + 2] << 8) | data[pos + 3])
    struct.pack_into(">HH", data, pos + 5, height, width)
    return bytes(data)


def _png_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(face_array(0, 16), "PNG"))
    struct.pack_into(">II", data, 16, width, height)  # IHDR width/height, then its CRC
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_decompression_bomb_is_refused_from_the_header(monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    data = _jpeg_claiming(20_000, 20_000) if fmt == "jpeg" else _png_claiming(20_000, 20_000)

    def no_decoding(*args: object, **kw: object) -> None:
        raise AssertionError("pixels were decoded")

    # before: the JPEG went to cv2.imdecode, which allocated 1.2 GB and returned a grey image
    monkeypatch.setattr(decode_module.cv2, "imdecode", no_decoding)
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    for decode in (decode_face, decode_image):
        with pytest.raises(ImageDecodeError, match=r"bomb\.img: cannot decode image \(Image size \(400000000 pixels\)"):
            decode(data, "bomb.img")


def test_zero_bytes_truncated_and_directory_name_the_file(tmp_path: Path) -> None:
    jpg, png = encode(face_array(1)), encode(face_array(1), "PNG")
    cases = {"empty.jpg": b"", "cut.jpg": jpg[: len(jpg) // 2], "cut.png": png[: len(png) // 2], "cut2.jpg": jpg[:300]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageDecodeError, match=rf"{name}: cannot decode image"):
            read_face(tmp_path / name)
    (tmp_path / "folder.jpg").mkdir()
    with pytest.raises(ImageDecodeError, match=r"folder\.jpg: cannot read \(Is a directory\)"):
        read_face(tmp_path / "folder.jpg")


def test_wrong_extension_is_decoded_by_content(tmp_path: Path) -> None:
    arr = face_array(2)
    (tmp_path / "really_png.jpg").write_bytes(encode(arr, "PNG"))
    (tmp_path / "really_jpeg.png").write_bytes(encode(arr, "JPEG"))
    assert torch.equal(read_face(tmp_path / "really_png.jpg"), torch.from_numpy(arr.transpose(2, 0, 1).copy()))
    assert read_face(tmp_path / "really_jpeg.png").shape == (3, 112, 112)


def test_one_pixel_image_is_resized() -> None:
    face = decode_face(encode(np.full((1, 1, 3), (10, 200, 30), np.uint8), "PNG"))
    assert face.shape == (3, 112, 112)
    assert face[:, 50, 50].tolist() == [10, 200, 30]


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (112, 112), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    rgb = decode_image(buf.getvalue(), "anim.gif")
    assert rgb.shape == (112, 112, 3) and rgb[0, 0].tolist() == [255, 0, 0]


def test_sixteen_bit_tiff_keeps_the_high_byte() -> None:
    values = np.array([[0x1234, 0xFF00], [0x0080, 0xABCD]], dtype=np.uint16)
    buf = io.BytesIO()
    Image.fromarray(values).save(buf, "TIFF")  # uint16 -> mode I;16
    rgb = decode_image(buf.getvalue(), "deep.tif")
    assert rgb[:, :, 0].tolist() == [[0x12, 0xFF], [0x00, 0xAB]]
    assert (rgb[:, :, 0] == rgb[:, :, 2]).all()


def test_unreadable_file_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.jpg"
    path.write_bytes(encode(face_array(3)))
    if os.geteuid() == 0:  # root reads any file: simulate the permission error the OS would raise
        real = Path.read_bytes

        def denied(self: Path) -> bytes:
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self)

        monkeypatch.setattr(Path, "read_bytes", denied)
    else:
        path.chmod(0)
    with pytest.raises(ImageDecodeError, match=r"locked\.jpg: cannot read \(Permission denied\)"):
        read_face(path)


def test_symlink_loops_end(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    (root / "a").mkdir(parents=True)
    (root / "a" / "0.jpg").write_bytes(encode(face_array(4)))
    os.symlink("x.jpg", root / "a" / "y.jpg")  # a file loop: y -> x -> y
    os.symlink("y.jpg", root / "a" / "x.jpg")
    os.symlink("..", root / "a" / "up")  # a folder loop inside an identity
    os.symlink(".", root / "self")  # an identity folder that is the root itself
    index = index_image_folder(root)
    assert index.identities == ["a"]  # the root's own link is not an identity holding everything again
    assert [p.name for p in index.paths] == ["0.jpg", "x.jpg", "y.jpg"]
    assert root / "self" in index.ignored
    ds = ImageFolderDataset(root, max_bad_fraction=1.0)
    images = [ds[i] for i in range(len(ds))]
    assert sum(img is not None for img in images) >= 1
    with pytest.raises(ImageDecodeError, match=r"x\.jpg: cannot read \(Too many levels of symbolic links\)"):
        read_face(root / "a" / "x.jpg")


def test_non_utf8_file_names_are_read_and_reported(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    ident = root / os.fsdecode(b"caf\xe9")  # latin-1 bytes: not UTF-8
    ident.mkdir(parents=True)
    (ident / os.fsdecode(b"\xff0.jpg")).write_bytes(encode(face_array(5)))
    (ident / os.fsdecode(b"\xfebad.jpg")).write_bytes(b"not an image")
    (root / "b").mkdir()
    (root / "b" / "0.jpg").write_bytes(encode(face_array(6)))
    ds = ImageFolderDataset(root, bad_file_policy="raise")
    assert ds.label_map == {os.fsdecode(b"caf\xe9"): 1, "b": 0}
    assert ds[0][0].shape == (3, 112, 112)
    # the CLI prints the bad file's name (before: UnicodeEncodeError on a UTF-8 terminal)
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [sys.executable, "-m", "clusterface", "data", "scan", str(root), "--no-progress"],
        capture_output=True,
        env=env,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    assert b"bad.jpg" in proc.stdout + proc.stderr
