"""Backbone weights without pickle: ``model.safetensors`` + ``model.json``.

``model.json`` holds the backbone's registry name and constructor arguments (enough to rebuild it
with ``create_backbone``), the model metadata (preprocessing, flip test, thresholds) and the
training config it came from. Loading reads the tensors with ``safetensors`` only: no
``torch.load``, no pickle, so an untrusted file cannot run code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from clusterface.export.metadata import META_FORMAT_VALUE, ModelMetadata

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"


class ExportFormatError(ValueError):
    """An export folder or file that cannot be used; the message names the file and the fix."""


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_model_json(
    directory: Path, backbone: dict[str, Any], metadata: ModelMetadata, config: dict[str, Any] | None
) -> Path:
    """Write ``model.json`` atomically: format, backbone (name + kwargs), metadata, training config."""
    doc = {"format": META_FORMAT_VALUE, "backbone": backbone, "metadata": metadata.to_dict(), "config": config}
    path = directory / CONFIG_FILE
    _write_atomic(path, (json.dumps(doc, indent=2, default=str) + "\n").encode())
    return path


def read_model_json(directory: str | Path) -> dict[str, Any]:
    """The parsed ``model.json`` of an export folder (checked for format and a backbone entry)."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise ExportFormatError(
            f"{path}: missing; an export folder holds model.json (write one with `clusterface export`)"
        )
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ExportFormatError(f"{path}: not readable JSON ({err})") from err
    if not isinstance(doc, dict) or doc.get("format") != META_FORMAT_VALUE or "backbone" not in doc:
        raise ExportFormatError(f"{path}: not a clusterface export (expected format {META_FORMAT_VALUE})")
    return doc


def save_weights(
    model: nn.Module,
    directory: str | Path,
    backbone: dict[str, Any],
    metadata: ModelMetadata,
    config: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``model.safetensors`` (the state dict, contiguous CPU tensors) and ``model.json``.

    ``backbone``: ``{"name": registry name, "kwargs": {...}}`` as ``create_backbone(name, **kwargs)`` takes.
    """
    from safetensors.torch import save

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = directory / WEIGHTS_FILE
    _write_atomic(weights, save(tensors, metadata={"format": META_FORMAT_VALUE}))
    return weights, write_model_json(directory, backbone, metadata, config)


def load_weights(directory: str | Path) -> tuple[nn.Module, ModelMetadata]:
    """Rebuild the backbone of an export folder (eval mode, CPU) and its metadata, without pickle."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from clusterface.models import create_backbone

    directory = Path(directory)
    doc = read_model_json(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise ExportFormatError(f"{weights}: missing; re-run `clusterface export` to write it")
    spec = doc["backbone"]
    try:
        model = create_backbone(spec["name"], **spec.get("kwargs", {}))
    except (KeyError, TypeError) as err:
        raise ExportFormatError(f"{directory / CONFIG_FILE}: cannot build backbone {spec!r} ({err})") from err
    try:
        state: dict[str, torch.Tensor] = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as err:
        raise ExportFormatError(f"{weights}: not a readable safetensors file ({err})") from err
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ExportFormatError(f"{weights}: weights do not fit backbone {spec['name']!r} ({err})") from err
    model.eval()
    return model, ModelMetadata.from_dict(doc.get("metadata") or {})
