"""What a consumer of an exported model must know: preprocessing, embedding size, flip test, thresholds.

One ``ModelMetadata`` is written twice by ``export``: as ONNX metadata props (string key/values,
read by any onnxruntime user and by ``clusterface.evaluation.OnnxEmbedder``) and inside
``model.json`` next to ``model.safetensors``. ``load``/``evaluate`` read it back, so no
preprocessing option has to be repeated.

Thresholds are cosine similarities between L2-normalised (flip-summed, when ``flip`` is set)
embeddings: a pair is accepted as the same person when ``cos ≥ threshold``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Keys shared with clusterface.evaluation.embedder (input_size, mean, std, color_order) plus ours.
META_FORMAT = "clusterface_format"
META_FORMAT_VALUE = "clusterface-export/1"
META_INPUT_SIZE = "input_size"
META_MEAN = "mean"
META_STD = "std"
META_COLOR = "color_order"
META_EMBEDDING_SIZE = "embedding_size"
META_FLIP = "flip_test"
META_BACKBONE = "backbone"
META_CONFIG_HASH = "config_sha256"
META_THRESHOLDS = "thresholds"  # JSON: {"1e-04": {"threshold": ..., "ci_low": ..., ...}, ...}


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the training config as canonical JSON (sorted keys; paths and other objects as str)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def far_key(far: float) -> str:
    """``1e-4`` -> ``"1e-04"`` (the key format of the project's TAR@FAR reports)."""
    return f"{far:.0e}"


@dataclass
class Threshold:
    """A cosine threshold for one target FAR, measured on ``num_impostor`` impostor pairs.

    ``ci_low``/``ci_high``: 95 % bootstrap interval of the threshold (impostor pairs resampled);
    ``far_ci_low``/``far_ci_high``: exact (Clopper-Pearson) 95 % interval of the FAR achieved at
    ``threshold`` from the count of impostors at or above it; ``tar``: genuine pairs accepted.
    """

    far: float
    threshold: float
    achieved_far: float
    impostors_accepted: int
    num_impostor: int
    num_genuine: int
    tar: float
    ci_low: float
    ci_high: float
    far_ci_low: float
    far_ci_high: float
    source: str = ""


@dataclass
class ModelMetadata:
    """Everything needed to use an embedding model correctly (see the module docstring)."""

    input_size: int = 112
    mean: tuple[float, float, float] = (127.5, 127.5, 127.5)
    std: tuple[float, float, float] = (127.5, 127.5, 127.5)
    color_order: str = "RGB"
    embedding_size: int | None = None
    flip: bool = True
    backbone: str | None = None
    config_sha256: str | None = None
    thresholds: dict[str, Threshold] = field(default_factory=dict)

    def threshold_for(self, far: float) -> Threshold:
        """The calibrated threshold at ``far``; KeyError naming the FARs that exist (or that none do)."""
        key = far_key(far)
        if key not in self.thresholds:
            have = ", ".join(sorted(self.thresholds)) or "none"
            raise KeyError(
                f"no calibrated threshold at FAR {key} (calibrated: {have}); "
                "run `clusterface calibrate MODEL --pairs pairs.txt --images DIR` (or --bin) first"
            )
        return self.thresholds[key]

    # --- ONNX metadata props (flat strings) ---
    def to_props(self) -> dict[str, str]:
        props = {
            META_FORMAT: META_FORMAT_VALUE,
            META_INPUT_SIZE: str(self.input_size),
            META_MEAN: ",".join(f"{v:g}" for v in self.mean),
            META_STD: ",".join(f"{v:g}" for v in self.std),
            META_COLOR: self.color_order,
            META_FLIP: "1" if self.flip else "0",
        }
        if self.embedding_size is not None:
            props[META_EMBEDDING_SIZE] = str(self.embedding_size)
        if self.backbone:
            props[META_BACKBONE] = self.backbone
        if self.config_sha256:
            props[META_CONFIG_HASH] = self.config_sha256
        if self.thresholds:
            props[META_THRESHOLDS] = json.dumps({k: asdict(t) for k, t in sorted(self.thresholds.items())})
        return props

    @classmethod
    def from_props(cls, props: dict[str, str]) -> ModelMetadata:
        """Read props written by ``to_props``; any ONNX model works (missing keys keep insightface defaults)."""

        def triple(text: str | None, default: tuple[float, float, float]) -> tuple[float, float, float]:
            if not text:
                return default
            vals = [float(v) for v in text.replace(" ", "").strip("[]()").split(",") if v]
            return (vals[0], vals[0], vals[0]) if len(vals) == 1 else (vals[0], vals[1], vals[2])

        meta = cls()
        if META_INPUT_SIZE in props:
            meta.input_size = int(float(props[META_INPUT_SIZE].split(",")[0]))
        meta.mean = triple(props.get(META_MEAN), meta.mean)
        meta.std = triple(props.get(META_STD), meta.std)
        meta.color_order = props.get(META_COLOR, "RGB").upper()
        if META_EMBEDDING_SIZE in props:
            meta.embedding_size = int(props[META_EMBEDDING_SIZE])
        # a foreign model says nothing about the flip test; the field's evaluations use it
        meta.flip = props.get(META_FLIP, "1") not in ("0", "false", "False")
        meta.backbone = props.get(META_BACKBONE)
        meta.config_sha256 = props.get(META_CONFIG_HASH)
        if META_THRESHOLDS in props:
            meta.thresholds = {k: Threshold(**v) for k, v in json.loads(props[META_THRESHOLDS]).items()}
        return meta

    # --- JSON (model.json, calibration files) ---
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelMetadata:
        d = dict(d)
        thresholds = {k: Threshold(**v) for k, v in (d.pop("thresholds", None) or {}).items()}
        mean, std = d.pop("mean", (127.5,) * 3), d.pop("std", (127.5,) * 3)
        return cls(mean=tuple(mean), std=tuple(std), thresholds=thresholds, **d)  # type: ignore[arg-type]
