"""Decoding, embedders (torch and ONNX), the flip test, evaluate_bin."""

import numpy as np
import onnx
import pytest
import torch
from eval_helpers import MeanColour, encode
from onnx import TensorProto, helper

from clusterface.data import decode_faces
from clusterface.data.bin_set import load_bin
from clusterface.evaluation import (
    DegenerateEmbeddingError,
    OnnxEmbedder,
    TorchEmbedder,
    evaluate_bin,
    extract_embeddings,
    load_embedder,
    verification_10fold,
)
from clusterface.models import normalize_images


def test_decode_gives_rgb_and_resizes():
    img = np.zeros((3, 112, 112), dtype=np.uint8)
    img[0] = 200  # red
    out = decode_faces([encode(img, ".png")])[0]
    assert out.shape == (3, 112, 112) and out.dtype == np.uint8
    assert out[0].mean() == 200 and out[1].max() == 0 and out[2].max() == 0
    big = np.zeros((3, 150, 150), dtype=np.uint8)
    big[2] = 90  # blue
    out = decode_faces([encode(big, ".png")])[0]
    assert out.shape == (3, 112, 112) and out[2].mean() == pytest.approx(90, abs=1) and out[0].max() == 0


class LeftRight(torch.nn.Module):
    """Embedding = (mean of left half, mean of right half): flipping swaps the two."""

    def forward(self, x):
        return torch.stack([x[..., :56].mean(dim=(1, 2, 3)), x[..., 56:].mean(dim=(1, 2, 3))], dim=1)


def test_flip_test_sums_both_orientations_then_normalises():
    imgs = np.zeros((2, 3, 112, 112), dtype=np.uint8)
    imgs[0, :, :, :56] = 255  # left half white
    imgs[1, :, :, 56:] = 255
    emb = TorchEmbedder(LeftRight())
    no_flip = extract_embeddings(emb, imgs, flip=False, normalize=False, progress=False)
    np.testing.assert_allclose(no_flip[0], [1, -1], atol=1e-6)
    # emb(img) + emb(hflip(img)) = (1,-1) + (-1,1) = 0 for both: degenerate -> error, not 50 %
    with pytest.raises(DegenerateEmbeddingError):
        extract_embeddings(emb, imgs, flip=True, progress=False)
    imgs[1, :, :, :] = 255
    out = extract_embeddings(emb, imgs, flip=True, progress=False, batch_size=1)
    np.testing.assert_allclose(out[1], [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1)[1], 1.0, atol=1e-6)


def test_torch_embedder_restores_training_mode_and_uses_normalize_images():
    model = MeanColour().train()
    imgs = torch.randint(0, 256, (4, 3, 112, 112), dtype=torch.uint8)
    out = TorchEmbedder(model)(imgs)
    assert model.training
    np.testing.assert_allclose(out, MeanColour()(normalize_images(imgs)).detach().numpy(), atol=1e-6)


def test_evaluate_bin_on_colour_faces(colour_bin):
    model = MeanColour().train()
    res = evaluate_bin(model, colour_bin, batch_size=16, progress=False)
    assert model.training
    assert res["num_pairs"] == 100 and res["num_genuine"] == 50
    assert res["accuracy"] >= 0.95
    # the same numbers computed by hand from the decoded images
    data = load_bin(colour_bin)
    x = normalize_images(torch.from_numpy(decode_faces(data.images)))
    with torch.no_grad():
        feats = model(x) + model(torch.flip(x, dims=[3]))
    feats = torch.nn.functional.normalize(feats, dim=1).numpy()
    dist = ((feats[0::2] - feats[1::2]) ** 2).sum(1)
    expected = verification_10fold(dist, data.issame)
    assert res["accuracy"] == pytest.approx(expected.accuracy_mean)
    assert res["best_threshold"] == pytest.approx(expected.best_threshold)
    assert 0 < res["best_threshold"] < 4
    assert set(res["tar_at_far"]) == {"1e-01", "1e-02", "1e-03", "1e-04", "1e-05", "1e-06"}
    assert res["tar_at_far"]["1e-01"] == 1.0
    assert res["tar_at_far"]["1e-02"] is None and "50 impostor" in res["tar_at_far_unreachable"]["1e-02"]


class Constant(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(8))

    def forward(self, x):
        return self.w.expand(x.shape[0], 8)


class NaNModel(Constant):
    def forward(self, x):
        out = super().forward(x).clone()
        out[0, 0] = float("nan")
        return out


@pytest.mark.parametrize("model", [Constant(), NaNModel()])
def test_evaluate_bin_degenerate_model_raises(colour_bin, model):
    with pytest.raises(DegenerateEmbeddingError):
        evaluate_bin(model, colour_bin, progress=False)


def _mean_pool_onnx(path, props):
    """ONNX graph: (x - 0) -> GlobalAveragePool -> Flatten, i.e. per-channel means of the model input."""
    node1 = helper.make_node("GlobalAveragePool", ["input"], ["pooled"])
    node2 = helper.make_node("Flatten", ["pooled"], ["embedding"], axis=1)
    graph = helper.make_graph(
        [node1, node2],
        "meanpool",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path


def test_onnx_embedder_reads_metadata_and_options(tmp_path):
    imgs = np.zeros((2, 3, 112, 112), dtype=np.uint8)
    imgs[:, 0] = 100  # R
    imgs[:, 1] = 50  # G
    imgs[:, 2] = 10  # B
    path = _mean_pool_onnx(tmp_path / "m.onnx", {"mean": "10,20,30", "std": "2", "color_order": "BGR"})
    emb = OnnxEmbedder(path)
    assert emb.color_order == "BGR" and emb.input_size == 112
    # BGR order: channels (10, 50, 100) minus mean (10, 20, 30), over std 2
    np.testing.assert_allclose(emb(torch.from_numpy(imgs))[0], [0, 15, 35], atol=1e-5)
    # options win over metadata
    emb = OnnxEmbedder(path, mean=0.0, std=1.0, color_order="RGB")
    np.testing.assert_allclose(emb(torch.from_numpy(imgs))[0], [100, 50, 10], atol=1e-5)
    plain = load_embedder(_mean_pool_onnx(tmp_path / "plain.onnx", {}))
    np.testing.assert_allclose(plain(torch.from_numpy(imgs))[0], (np.array([100, 50, 10]) - 127.5) / 127.5, atol=1e-4)


class ChannelMean(torch.nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def test_onnx_and_torch_give_the_same_verification(colour_bin, tmp_path):
    path = _mean_pool_onnx(tmp_path / "m.onnx", {})
    a = evaluate_bin(path, colour_bin, progress=False)
    b = evaluate_bin(ChannelMean(), colour_bin, progress=False)
    assert a["accuracy"] == b["accuracy"]
    assert a["best_threshold"] == pytest.approx(b["best_threshold"])
