"""``clusterface.load(path)``: one entry point for every kind of model file.

- an export folder (``model.json`` + ``model.safetensors`` and/or ``model.onnx``, from
  ``clusterface export``), or its ``model.safetensors`` / ``model.onnx`` file;
- any ONNX face model (insightface's, another toolkit's): preprocessing from its metadata props,
  else insightface's defaults, overridable by keyword;
- a clusterface training checkpoint (``.pt``, read with ``torch.load(weights_only=True)``).

The metadata is read from the file that runs (``model.onnx``'s props, or ``model.json`` for the
safetensors weights; ``export`` and ``calibrate`` keep the two in step). Thresholds come from it
and, for a single file, from a calibration file next to it (``X.calibration.json``, written by
``clusterface calibrate``), which wins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from clusterface.export.metadata import ModelMetadata, Threshold
from clusterface.export.onnx_model import ONNX_FILE, read_onnx_metadata
from clusterface.export.weights import CONFIG_FILE, WEIGHTS_FILE, ExportFormatError, load_weights
from clusterface.inference.face_embedder import FaceEmbedder

Backend = Literal["auto", "onnx", "torch"]


def calibration_path(model_path: str | Path) -> Path:
    """Where ``clusterface calibrate`` writes thresholds for a model file: ``X.calibration.json`` beside it."""
    p = Path(model_path)
    return p.with_name(f"{p.stem}.calibration.json")


def read_calibration(model_path: str | Path) -> dict[str, Threshold]:
    """Thresholds from the calibration file next to ``model_path`` ({} when there is none)."""
    path = calibration_path(model_path)
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text())
        return {k: Threshold(**v) for k, v in doc["thresholds"].items()}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ExportFormatError(
            f"{path}: not a calibration file ({err}); delete it or re-run `clusterface calibrate`"
        ) from err


def _onnx(path: Path, metadata: ModelMetadata | None, onnx_options: dict[str, Any]) -> FaceEmbedder:
    from clusterface.evaluation.embedder import OnnxEmbedder

    backend = OnnxEmbedder(path, **onnx_options)
    meta = metadata if metadata is not None else read_onnx_metadata(path)
    # what the session really uses (options given here win over the props)
    meta.input_size = backend.input_size
    meta.mean = tuple(float(v) for v in backend.mean.ravel())  # type: ignore[assignment]
    meta.std = tuple(float(v) for v in backend.std.ravel())  # type: ignore[assignment]
    meta.color_order = backend.color_order
    return FaceEmbedder(backend, meta, path, "onnx")


def load(
    path: str | Path,
    backend: Backend = "auto",
    device: str = "cpu",
    flip: bool | None = None,
    **onnx_options: Any,
) -> FaceEmbedder:
    """Load a face model (see the module docstring) as a FaceEmbedder.

    backend: for an export folder, ``onnx`` (onnxruntime) or ``torch`` (safetensors weights);
    ``auto`` takes ONNX when the folder has it. flip: override the metadata's flip test.
    onnx_options: ``input_size``, ``mean``, ``std``, ``color_order``, ``providers`` for ONNX models.
    """
    from clusterface.evaluation.embedder import TorchEmbedder

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such model (a checkpoint, an export folder or an ONNX file)")
    folder = p if p.is_dir() else p.parent if p.name in (WEIGHTS_FILE, CONFIG_FILE) else None
    if p.is_file() and p.name == ONNX_FILE and (p.parent / CONFIG_FILE).is_file():
        folder, backend = p.parent, "onnx"
    if folder is not None:
        if not (folder / CONFIG_FILE).is_file():
            raise ExportFormatError(
                f"{folder}: not an export folder (no {CONFIG_FILE}); give a checkpoint, an ONNX file, "
                f"or a folder written by `clusterface export`"
            )
        use_onnx = backend == "onnx" or (
            backend == "auto" and (folder / ONNX_FILE).is_file() and p.name != WEIGHTS_FILE
        )
        if use_onnx:
            face = _onnx(folder / ONNX_FILE, None, onnx_options)  # the file that runs carries its metadata
        else:
            model, meta = load_weights(folder)
            face = FaceEmbedder(
                TorchEmbedder(model.to(device), device=device, input_size=meta.input_size), meta, folder, "torch"
            )
        face.source = folder
    elif p.suffix.lower() == ".onnx":
        face = _onnx(p, None, onnx_options)
        face.metadata.thresholds.update(read_calibration(p))
    else:
        from clusterface.export.export import read_checkpoint_backbone
        from clusterface.export.metadata import config_hash

        if onnx_options:
            raise ValueError(f"{sorted(onnx_options)} apply to ONNX models only, not to checkpoint {p}")
        model, spec, config = read_checkpoint_backbone(p)
        meta = ModelMetadata(
            embedding_size=int(spec["kwargs"]["embedding_dim"]),
            backbone=str(spec["name"]),
            config_sha256=config_hash(config),
        )
        meta.thresholds.update(read_calibration(p))
        face = FaceEmbedder(TorchEmbedder(model.to(device), device=device), meta, p, "torch")
    if flip is not None:
        face.metadata.flip = flip
    return face
