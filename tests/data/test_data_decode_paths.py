"""One decoder: a file gives the same (3, 112, 112) tensor through every entry point that reads it.

Training reads through ``ImageFolderDataset`` (and ``read_face``); evaluation and clustering through
``extract_embeddings`` on the encoded bytes (face folders, .bin sets) and ``pairs_to_bin``.
Before the decoders were merged, evaluation dropped alpha where training composited it on black.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from data_helpers import encode, face_array
from PIL import Image

from clusterface.data import ImageFolderDataset, Pair, PairList, decode_faces, pairs_to_bin, read_face
from clusterface.evaluation import extract_embeddings


def _rgba() -> bytes:
    alpha = np.full((112, 112), 255, np.uint8)
    alpha[:, :40] = 0
    alpha[:20, 40:] = 100
    return encode(Image.fromarray(np.dstack([face_array(10), alpha]), "RGBA"), "PNG")


def _palette_transparent() -> bytes:
    pal = Image.fromarray(face_array(11)).quantize(32)
    return encode(pal, "PNG", transparency=0)


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    return encode(Image.fromarray(face_array(12)[:, :96]), exif=exif)


KINDS = {
    "rgba.png": _rgba,
    "la.png": lambda: encode(
        Image.fromarray(np.dstack([face_array(13)[:, :, 0], np.full((112, 112), 90, np.uint8)]), "LA"), "PNG"
    ),
    "gray.jpg": lambda: encode(Image.fromarray(face_array(14)[:, :, 0], "L")),
    "gray.png": lambda: encode(Image.fromarray(face_array(15)[:, :, 1], "L"), "PNG"),
    "palette.png": _palette_transparent,
    "u16.png": lambda: encode(Image.fromarray(face_array(16)[:, :, 0].astype(np.uint16) * 257 + 3), "PNG"),
    "cmyk.jpg": lambda: encode(Image.fromarray(face_array(17)).convert("CMYK")),
    "exif.jpg": _exif_rotated,
    "big.jpg": lambda: encode(face_array(18, size=150)),
    "small.png": lambda: encode(face_array(19, size=80), "PNG"),
    "rgb.jpg": lambda: encode(face_array(20)),
}


class Capture:
    """An embedder that records the uint8 batches it is given and embeds each image as its own pixels."""

    def __init__(self) -> None:
        self.batches: list[torch.Tensor] = []

    def __call__(self, batch: torch.Tensor) -> np.ndarray:
        self.batches.append(batch.clone())
        return batch.reshape(len(batch), -1).float().numpy() + np.arange(len(batch))[:, None]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    for i, (name, make) in enumerate(KINDS.items()):
        (root / f"id_{i:02d}").mkdir()
        (root / f"id_{i:02d}" / name).write_bytes(make())
    return root


def test_train_and_eval_entry_points_give_the_same_tensor(folder):
    train_set = ImageFolderDataset(folder, bad_file_policy="raise")
    assert len(train_set) == len(KINDS)
    paths = sorted(folder.glob("*/*"))
    encoded = [p.read_bytes() for p in paths]
    capture = Capture()
    extract_embeddings(capture, encoded, flip=False, normalize=False, progress=False)
    evaluated = torch.cat(capture.batches)
    for i, path in enumerate(paths):
        trained, _ = train_set[i]
        assert trained.shape == (3, 112, 112) and trained.dtype == torch.uint8, path.name
        assert torch.equal(trained, read_face(path)), path.name
        assert torch.equal(trained, evaluated[i]), f"{path.name}: training and evaluation decode differently"
        assert np.array_equal(trained.numpy(), decode_faces([encoded[i]])[0]), path.name


def test_pair_list_bin_decodes_like_training(folder, tmp_path):
    """Pairs over the folder become a .bin (non-JPEGs re-encoded); evaluating its bytes sees the training pixels."""
    paths = sorted(folder.glob("*/*"))
    pairs = [Pair(a, b, False, 0) for a, b in itertools.pairwise(paths)]
    vbin = pairs_to_bin(PairList(tmp_path / "pairs.txt", folder, pairs, 1, "development"))
    decoded = decode_faces(vbin.images)
    for i, pair in enumerate(pairs):
        assert np.array_equal(decoded[2 * i], read_face(pair.path1).numpy()), pair.path1.name
        assert np.array_equal(decoded[2 * i + 1], read_face(pair.path2).numpy()), pair.path2.name


def test_alpha_is_composited_the_same_everywhere(folder):
    """The case that used to differ: transparent pixels are black for training and evaluation."""
    path = next(folder.glob("*/rgba.png"))
    face = read_face(path)
    assert (face[:, :, :40] == 0).all()
    assert np.array_equal(decode_faces([path.read_bytes()])[0], face.numpy())
