"""``export``: a training checkpoint -> ``model.onnx`` + ``model.safetensors`` + ``model.json``.

Only the checkpoint's ``config`` and ``backbone`` entries are read: the classifier, centre memory,
optimiser and any sharded objective state are ignored, so replicated and class-sharded
checkpoints export alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from clusterface.export.calibration import CALIBRATION_FARS, calibrate_scores, score_pairs
from clusterface.export.metadata import ModelMetadata, Threshold, config_hash
from clusterface.export.onnx_model import ONNX_FILE, ONNX_OPSET, export_onnx
from clusterface.export.parity import PARITY_TOLERANCE, ParityError, ParityResult, check_parity
from clusterface.export.weights import save_weights


@dataclass
class ExportResult:
    """Files written by ``export_checkpoint``, the metadata they carry, the parity check and timings (s)."""

    onnx: Path
    weights: Path
    model_json: Path
    metadata: ModelMetadata
    parity: ParityResult | None
    opset: int
    seconds: dict[str, float] = field(default_factory=dict)
    skipped_fars: dict[str, str] = field(default_factory=dict)


def read_checkpoint_backbone(path: str | Path) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """(backbone in eval mode, ``{"name", "kwargs"}`` to rebuild it, the training config as a dict).

    Loaded with ``torch.load(weights_only=True)``; only the ``config`` and ``backbone`` entries are used,
    and of the config only ``model`` when the rest does not validate (a checkpoint written by a version
    with other config fields still exports).
    """
    from clusterface.checkpoint import CheckpointError, load_checkpoint
    from clusterface.config import ConfigError, config_from_dict
    from clusterface.config.schema import ModelConfig
    from clusterface.models import create_backbone

    state = load_checkpoint(path)
    raw = state["config"] if isinstance(state["config"], dict) else {}
    try:
        model_cfg = config_from_dict(raw, source=str(path)).model
    except ConfigError:
        # a config from another version (fields this one does not know): only the model section matters
        known = ModelConfig.model_fields
        section = {k: v for k, v in (raw.get("model") or {}).items() if k in known}
        try:
            model_cfg = ModelConfig.model_validate(section)
        except ValueError as err:
            raise CheckpointError(f"{path}: cannot read the backbone settings (config.model): {err}") from err
    spec: dict[str, Any] = {
        "name": model_cfg.backbone,
        "kwargs": {"embedding_dim": model_cfg.embedding_dim, "dropout": model_cfg.dropout},
    }
    model = create_backbone(spec["name"], **spec["kwargs"])
    weights = {k.removeprefix("module."): v for k, v in state["backbone"].items()}
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: backbone weights do not fit {spec['name']!r} ({err})") from err
    model.eval()
    return model, spec, dict(raw)


def export_checkpoint(
    checkpoint: str | Path,
    out_dir: str | Path,
    calibrate: str | Path | None = None,
    calibrate_images: str | Path | None = None,
    fars: tuple[float, ...] = CALIBRATION_FARS,
    flip: bool = True,
    opset: int = ONNX_OPSET,
    parity: bool = True,
    parity_tolerance: float = PARITY_TOLERANCE,
    progress: bool = False,
) -> ExportResult:
    """Export ``checkpoint`` into ``out_dir`` and check ONNX-vs-torch parity on 256 images.

    ``calibrate``: a ``.bin`` set or ``pairs.txt`` (over ``calibrate_images``) whose pairs set the
    thresholds at ``fars``, stored in the metadata. Raises ParityError when parity fails (the files
    stay, so the difference can be inspected).
    """
    from clusterface.evaluation.embedder import TorchEmbedder

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    model, spec, config = read_checkpoint_backbone(checkpoint)
    seconds["read"] = time.perf_counter() - t0
    metadata = ModelMetadata(
        embedding_size=int(spec["kwargs"]["embedding_dim"]),
        flip=flip,
        backbone=str(spec["name"]),
        config_sha256=config_hash(config),
    )
    skipped: dict[str, str] = {}
    if calibrate is not None:
        t0 = time.perf_counter()
        scores, same = score_pairs(
            TorchEmbedder(model, device="cpu"), calibrate, calibrate_images, flip, progress=progress
        )
        thresholds, skipped = calibrate_scores(scores, same, fars, source=str(calibrate))
        metadata.thresholds = thresholds
        seconds["calibrate"] = time.perf_counter() - t0
    out = Path(out_dir)
    t0 = time.perf_counter()
    onnx_path = export_onnx(model, out / ONNX_FILE, metadata, opset=opset)
    seconds["onnx"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    weights, model_json = save_weights(model, out, spec, metadata, config)
    seconds["safetensors"] = time.perf_counter() - t0
    result = ExportResult(onnx_path, weights, model_json, metadata, None, opset, seconds, skipped)
    if parity:
        t0 = time.perf_counter()
        result.parity = check_parity(model, onnx_path, tolerance=parity_tolerance)
        seconds["parity"] = time.perf_counter() - t0
        if not result.parity.ok:
            raise ParityError(
                f"{onnx_path}: ONNX and torch embeddings differ by {result.parity.max_abs_diff:.2e} "
                f"(tolerance {parity_tolerance:.0e}) on {result.parity.num_images} images"
            )
    return result


def thresholds_table(thresholds: dict[str, Threshold]) -> list[str]:
    """Human-readable lines, one per calibrated FAR."""
    lines = []
    for key, t in sorted(thresholds.items(), key=lambda kv: -kv[1].far):
        lines.append(
            f"FAR {key}: cos >= {t.threshold:.4f} (95% bootstrap {t.ci_low:.4f}..{t.ci_high:.4f}); "
            f"TAR {100 * t.tar:.2f} %; {t.impostors_accepted}/{t.num_impostor} impostors accepted "
            f"(FAR 95% {t.far_ci_low:.1e}..{t.far_ci_high:.1e})"
        )
    return lines
