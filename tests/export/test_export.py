"""Export: ONNX (dynamic batch, opset, metadata, checker), safetensors round trip, ORT parity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from export_helpers import EMBEDDING_DIM, face_like_images, make_checkpoint, make_model

from clusterface.export import (
    ONNX_OPSET,
    ModelMetadata,
    ParityError,
    check_parity,
    config_hash,
    export_checkpoint,
    load_weights,
    read_onnx_metadata,
)


def test_onnx_is_checked_has_dynamic_batch_opset_and_metadata(exported: Path, checkpoint: Path):
    proto = onnx.load(str(exported / "model.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [ONNX_OPSET]
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "batch" and batch.dim_value == 0
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["input_size"] == "112"
    assert props["mean"] == "127.5,127.5,127.5" and props["std"] == "127.5,127.5,127.5"
    assert props["color_order"] == "RGB" and props["flip_test"] == "1"
    assert props["embedding_size"] == str(EMBEDDING_DIM) and props["backbone"] == "cfnet_s"
    state = torch.load(checkpoint, weights_only=True)
    assert props["config_sha256"] == config_hash(state["config"])
    assert "thresholds" not in props  # not calibrated


def test_onnx_runs_any_batch_size(exported: Path):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(exported / "model.onnx"), providers=["CPUExecutionProvider"])
    for b in (1, 3, 17):
        (out,) = sess.run(None, {"input": np.zeros((b, 3, 112, 112), np.float32)})
        assert out.shape == (b, EMBEDDING_DIM)


def test_safetensors_round_trip_equals_checkpoint_without_torch_load(exported: Path, monkeypatch):
    reference = make_model()  # the same weights the checkpoint holds

    def no_torch_load(*args, **kwargs):
        raise AssertionError("torch.load must not be used to read an export")

    monkeypatch.setattr(torch, "load", no_torch_load)
    model, meta = load_weights(exported)
    for (k, a), (k2, b) in zip(reference.state_dict().items(), model.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b), k
    assert meta.embedding_size == EMBEDDING_DIM and meta.backbone == "cfnet_s" and meta.flip
    doc = json.loads((exported / "model.json").read_text())
    assert doc["backbone"] == {"name": "cfnet_s", "kwargs": {"embedding_dim": EMBEDDING_DIM, "dropout": 0.0}}


def test_parity_on_256_images_below_1e_4(exported: Path):
    result = check_parity(make_model(), exported / "model.onnx")
    assert result.num_images == 256
    assert result.max_abs_diff < 1e-4


def test_parity_check_detects_a_different_model(exported: Path):
    other = make_model(seed=1)
    result = check_parity(other, exported / "model.onnx", images=torch.from_numpy(face_like_images(8)))
    assert not result.ok and result.max_abs_diff > 1e-2


def test_parity_failure_raises(checkpoint: Path, tmp_path: Path):
    with pytest.raises(ParityError, match="differ"):
        export_checkpoint(checkpoint, tmp_path, parity_tolerance=0.0)


def test_sharded_checkpoint_exports_the_same_model(tmp_path: Path, exported: Path):
    ckpt = make_checkpoint(tmp_path / "sharded.pt", sharded=True)
    result = export_checkpoint(ckpt, tmp_path / "out")
    assert result.parity is not None and result.parity.ok
    a = (exported / "model.safetensors").read_bytes()
    b = (tmp_path / "out" / "model.safetensors").read_bytes()
    assert a == b


def test_metadata_props_round_trip():
    meta = ModelMetadata(input_size=128, mean=(1.0, 2.0, 3.0), std=(4.0, 5.0, 6.5), color_order="BGR", flip=False)
    back = ModelMetadata.from_props(meta.to_props())
    assert back == meta
    assert ModelMetadata.from_dict(meta.to_dict()) == meta


def test_foreign_onnx_metadata_defaults(tmp_path: Path):
    """An ONNX model without our props: insightface defaults, embedding size from the graph."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("data", TensorProto.FLOAT, ["n", 3, 112, 112])
    y = helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["n", 8])
    w = helper.make_tensor("w", TensorProto.FLOAT, [3 * 112 * 112, 8], np.zeros(3 * 112 * 112 * 8, np.float32))
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [0, -1])
    nodes = [
        helper.make_node("Reshape", ["data", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["fc1"]),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], [w, shape])
    path = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    meta = read_onnx_metadata(path)
    assert (meta.input_size, meta.mean, meta.color_order, meta.flip) == (112, (127.5,) * 3, "RGB", True)
    assert meta.embedding_size == 8 and meta.thresholds == {}


def test_checkpoint_from_a_version_with_other_config_fields_exports(tmp_path: Path):
    """Export needs only config.model: unknown fields elsewhere (another version) do not stop it."""
    from clusterface.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint(make_checkpoint(tmp_path / "a.pt", sharded=False))
    state["config"]["objective"]["a_future_option"] = 3
    state["config"]["new_section"] = {"x": 1}
    state.pop("format")
    ckpt = save_checkpoint(state, tmp_path / "future.pt")
    result = export_checkpoint(ckpt, tmp_path / "out")
    assert result.metadata.embedding_size == EMBEDDING_DIM and result.parity is not None and result.parity.ok
