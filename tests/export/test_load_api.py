"""``clusterface.load``: every model kind, every input kind, similarity and verify."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
import torch
from export_helpers import EMBEDDING_DIM, face_like_images, make_model
from PIL import Image

import clusterface
from clusterface.evaluation import TorchEmbedder, extract_embeddings
from clusterface.export import ModelMetadata, Threshold, update_onnx_metadata
from clusterface.inference import NoThresholdError, calibration_path


def _reference(images: np.ndarray, flip: bool = True) -> np.ndarray:
    """Flip-summed, normalised embeddings from the torch model itself."""
    return extract_embeddings(TorchEmbedder(make_model()), images, flip=flip, progress=False)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return face_like_images(6, seed=3)


@pytest.mark.parametrize("kind", ["checkpoint", "folder-onnx", "folder-torch", "onnx-file", "safetensors-file"])
def test_every_model_kind_gives_the_reference_embeddings(kind, checkpoint, exported, images):
    path, backend = {
        "checkpoint": (checkpoint, "auto"),
        "folder-onnx": (exported, "onnx"),
        "folder-torch": (exported, "torch"),
        "onnx-file": (exported / "model.onnx", "auto"),
        "safetensors-file": (exported / "model.safetensors", "auto"),
    }[kind]
    model = clusterface.load(path, backend=backend)
    assert model.kind == ("onnx" if kind in ("folder-onnx", "onnx-file") else "torch")
    emb = model.embed(images)
    assert emb.shape == (6, EMBEDDING_DIM)
    np.testing.assert_allclose(emb, _reference(images), atol=1e-4)


def test_every_input_kind_gives_the_same_embedding(exported, images, tmp_path):
    model = clusterface.load(exported)
    chw = images[0]
    hwc = np.ascontiguousarray(chw.transpose(1, 2, 0))
    png = tmp_path / "a.png"
    cv2.imwrite(str(png), hwc[:, :, ::-1])
    expected = model.embed(chw)
    assert expected.shape == (EMBEDDING_DIM,)
    for form in (hwc, torch.from_numpy(chw), Image.fromarray(hwc), str(png), png, png.read_bytes()):
        np.testing.assert_allclose(model.embed(form), expected, atol=1e-6, err_msg=type(form).__name__)
    batch = model.embed([png, hwc, Image.fromarray(hwc)])
    assert batch.shape == (3, EMBEDDING_DIM)
    np.testing.assert_allclose(batch, np.stack([expected] * 3), atol=1e-6)
    # a larger image is resized to the model's input, as the decoder does for crops
    big = cv2.resize(hwc, (224, 224), interpolation=cv2.INTER_LINEAR)
    assert model.similarity(big, hwc) > 0.9


def test_similarity_and_verify(exported, images, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(exported, folder)
    model = clusterface.load(folder)
    e = model.embed(images)
    assert model.similarity(images[0], images[0]) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(model.similarity(images[:3], images[3:]), np.sum(e[:3] * e[3:], axis=1), atol=1e-5)
    np.testing.assert_allclose(model.similarity(e[0], e), e @ e[0], atol=1e-5)  # embeddings work too
    with pytest.raises(NoThresholdError, match="no calibrated threshold at FAR 1e-04.*clusterface calibrate"):
        model.verify(images[0], images[1])
    s01 = float(e[0] @ e[1])
    meta = model.metadata
    meta.thresholds["1e-04"] = Threshold(1e-4, s01 + 1e-3, 1e-4, 1, 10000, 10, 0.5, 0, 1, 0, 1)
    update_onnx_metadata(folder / "model.onnx", meta)
    again = clusterface.load(folder / "model.onnx")
    assert again.verify(images[0], images[1], far=1e-4) is False
    assert again.verify(images[0], images[0], far=1e-4) is True
    assert list(again.verify(images[:2], images[:2])) == [True, True]


def test_checkpoint_reads_calibration_file_beside_it(checkpoint, tmp_path):
    ckpt = tmp_path / "c.pt"
    shutil.copy(checkpoint, ckpt)
    t = Threshold(1e-3, 0.25, 1e-3, 1, 1000, 10, 0.5, 0.2, 0.3, 0, 0.01)
    import json
    from dataclasses import asdict

    calibration_path(ckpt).write_text(json.dumps({"thresholds": {"1e-03": asdict(t)}}))
    model = clusterface.load(ckpt)
    assert model.threshold(1e-3) == t


def test_flip_off_in_metadata_is_honoured(exported, images, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(exported, folder)
    model = clusterface.load(folder)
    model.metadata.flip = False
    update_onnx_metadata(folder / "model.onnx", model.metadata)
    plain = clusterface.load(folder / "model.onnx")
    assert plain.metadata.flip is False
    np.testing.assert_allclose(plain.embed(images), _reference(images, flip=False), atol=1e-4)


def test_bad_inputs_are_clear_errors(exported, tmp_path):
    model = clusterface.load(exported)
    with pytest.raises(TypeError, match="uint8"):
        model.embed(np.zeros((112, 112, 3), np.float32).astype(np.int32))
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        model.embed(tmp_path / "missing.jpg")
    with pytest.raises(FileNotFoundError, match="no such model"):
        clusterface.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not an export folder"):
        clusterface.load(tmp_path / "empty")


def test_metadata_defaults_are_insightface():
    m = ModelMetadata()
    assert (m.input_size, m.mean, m.std, m.color_order, m.flip) == (112, (127.5,) * 3, (127.5,) * 3, "RGB", True)
