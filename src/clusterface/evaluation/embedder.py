"""Embedders: uint8 RGB face crops (B, 3, 112, 112) -> float embeddings (B, d).

``TorchEmbedder`` wraps a clusterface backbone (normalised by
``clusterface.models.normalize_images``, the one place images are normalised);
``OnnxEmbedder`` runs an ONNX model of any toolkit with onnxruntime, with its
input size, mean/std and channel order given as options or read from the model's
metadata properties. ``load_embedder(path)`` picks one from the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from clusterface.models import normalize_images


@runtime_checkable
class Embedder(Protocol):
    """Maps a batch of uint8 RGB crops (B, 3, H, W) to float32 embeddings (B, d) (not normalised)."""

    input_size: int

    def __call__(self, images: torch.Tensor) -> NDArray[np.float32]: ...


class TorchEmbedder:
    """A torch backbone as an Embedder: eval mode, ``torch.inference_mode``, on the model's device.

    The model's train/eval mode is restored after each call, so the trainer can pass its live model.
    """

    def __init__(self, model: nn.Module, device: str | torch.device | None = None, input_size: int = 112) -> None:
        self.model = model
        if device is None:
            param = next(model.parameters(), None)
            device = param.device if param is not None else torch.device("cpu")
        self.device = torch.device(device)
        self.input_size = input_size

    def __call__(self, images: torch.Tensor) -> NDArray[np.float32]:
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                x = normalize_images(images.to(self.device, non_blocking=True))
                out = self.model(x)
        finally:
            self.model.train(was_training)
        return out.detach().float().cpu().numpy()


# Metadata keys read from an ONNX model (``onnx.helper.set_model_props``); all optional.
ONNX_META_INPUT_SIZE = "input_size"  # "112" or "112,112"
ONNX_META_MEAN = "mean"  # "127.5" or "127.5,127.5,127.5" (in the model's channel order)
ONNX_META_STD = "std"
ONNX_META_COLOR = "color_order"  # "RGB" or "BGR"


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.replace(" ", "").strip("[]()").split(",") if v)


class OnnxEmbedder:
    """An ONNX face model (NCHW float input) run with onnxruntime.

    Preprocessing: ``(pixel − mean) / std`` per channel in the model's colour order. Options given
    here win over the model's metadata props (keys ``input_size``, ``mean``, ``std``,
    ``color_order``); the defaults are insightface's (112, mean 127.5, std 127.5, RGB).
    """

    def __init__(
        self,
        path: str | Path,
        input_size: int | None = None,
        mean: float | tuple[float, ...] | None = None,
        std: float | tuple[float, ...] | None = None,
        color_order: Literal["RGB", "BGR"] | None = None,
        providers: list[str] | None = None,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such ONNX model")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.path), options, providers=providers or ["CPUExecutionProvider"])
        meta: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        if input_size is None and ONNX_META_INPUT_SIZE in meta:
            input_size = int(_floats(meta[ONNX_META_INPUT_SIZE])[0])
        if input_size is None and len(shape) == 4 and isinstance(shape[2], int):
            input_size = int(shape[2])
        self.input_size = int(input_size or 112)
        mean_v = mean if mean is not None else _floats(meta[ONNX_META_MEAN]) if ONNX_META_MEAN in meta else 127.5
        std_v = std if std is not None else _floats(meta[ONNX_META_STD]) if ONNX_META_STD in meta else 127.5
        self.mean = np.broadcast_to(np.asarray(mean_v, dtype=np.float32), (3,)).reshape(1, 3, 1, 1).copy()
        self.std = np.broadcast_to(np.asarray(std_v, dtype=np.float32), (3,)).reshape(1, 3, 1, 1).copy()
        order = color_order or meta.get(ONNX_META_COLOR, "RGB").upper()
        if order not in ("RGB", "BGR"):
            raise ValueError(f"{self.path}: color_order must be RGB or BGR, got {order!r}")
        self.color_order: str = order
        self.metadata = meta

    def __call__(self, images: torch.Tensor) -> NDArray[np.float32]:
        x = images.cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            import cv2

            x = np.stack(
                [cv2.resize(im.transpose(1, 2, 0), (self.input_size, self.input_size)).transpose(2, 0, 1) for im in x]
            )
        if self.color_order == "BGR":
            x = x[:, ::-1]
        blob = (x.astype(np.float32) - self.mean) / self.std
        (out,) = self.session.run(None, {self.input_name: np.ascontiguousarray(blob)})[:1]
        return np.asarray(out, dtype=np.float32).reshape(len(x), -1)


def load_embedder(path: str | Path, device: str | torch.device = "cpu", **onnx_options: Any) -> Embedder:
    """An Embedder from a file: ``.onnx`` -> OnnxEmbedder, anything else -> a clusterface checkpoint."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return OnnxEmbedder(path, **onnx_options)
    from clusterface.checkpoint import load_backbone

    model, _ = load_backbone(path, map_location=device)
    return TorchEmbedder(model.to(device), device=device)


def as_embedder(model_or_embedder: nn.Module | Embedder | str | Path) -> Embedder:
    """Accept a backbone, an Embedder or a model file, and return an Embedder."""
    if isinstance(model_or_embedder, nn.Module):
        return TorchEmbedder(model_or_embedder)
    if isinstance(model_or_embedder, str | Path):
        return load_embedder(model_or_embedder)
    return model_or_embedder
