"""Writing a backbone as ONNX, and reading / rewriting an ONNX model's metadata props.

The graph takes ``input`` float32 ``(batch, 3, S, S)`` already normalised as the metadata says
(``(pixel − mean) / std`` in ``color_order``), the convention of insightface's ONNX models, and
returns ``embedding`` ``(batch, d)`` (not L2-normalised). The batch axis is dynamic.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from clusterface.export.metadata import ModelMetadata

ONNX_OPSET = 17  # onnxruntime >= 1.14 runs it; every op of the registered backbones exists there
ONNX_FILE = "model.onnx"
INPUT_NAME = "input"
OUTPUT_NAME = "embedding"


def _save_atomic(model_proto: object, path: Path) -> None:
    import onnx

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        onnx.save_model(model_proto, str(tmp))  # type: ignore[arg-type]
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def set_onnx_metadata(model_proto: object, metadata: ModelMetadata) -> None:
    """Replace the model's metadata props with ``metadata`` (other props are kept)."""
    import onnx

    props = metadata.to_props()
    keep = {p.key: p.value for p in model_proto.metadata_props if p.key not in props}  # type: ignore[attr-defined]
    onnx.helper.set_model_props(model_proto, {**keep, **props})  # type: ignore[arg-type]


def export_onnx(model: nn.Module, path: str | Path, metadata: ModelMetadata, opset: int = ONNX_OPSET) -> Path:
    """Trace ``model`` (eval mode, CPU) to ONNX at ``path`` with ``metadata``; checked by ``onnx.checker``."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()
    dummy = torch.zeros(2, 3, metadata.input_size, metadata.input_size)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter is "legacy" but needs no onnxscript, and these backbones are plain CNNs
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (dummy,),
            buf,  # type: ignore[arg-type]  # a file object works (and is documented)
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    proto = onnx.load_from_string(buf.getvalue())
    proto.doc_string = "clusterface face embedding model; preprocessing in metadata_props"
    set_onnx_metadata(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    _save_atomic(proto, path)
    return path


def read_onnx_metadata(path: str | Path) -> ModelMetadata:
    """The metadata of any ONNX model (insightface defaults for keys it lacks)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    meta = ModelMetadata.from_props({p.key: p.value for p in proto.metadata_props})
    if meta.embedding_size is None:
        dims = proto.graph.output[0].type.tensor_type.shape.dim
        if len(dims) == 2 and dims[1].dim_value > 0:
            meta.embedding_size = int(dims[1].dim_value)
    return meta


def update_onnx_metadata(path: str | Path, metadata: ModelMetadata) -> Path:
    """Rewrite an ONNX file's metadata props in place (atomically; the graph is untouched)."""
    import onnx

    path = Path(path)
    proto = onnx.load(str(path))
    set_onnx_metadata(proto, metadata)
    _save_atomic(proto, path)
    return path
