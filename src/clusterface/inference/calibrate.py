"""``calibrate``: thresholds at target FARs for a model, stored where ``load`` finds them.

An export folder gets them in place (``model.json`` and ``model.onnx``'s metadata props, kept in
step); any other model file (a foreign ONNX, a checkpoint) gets ``X.calibration.json`` beside it,
so a file that is not ours is never rewritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from clusterface.export.calibration import CALIBRATION_FARS, calibrate_scores, score_pairs
from clusterface.export.metadata import META_FORMAT_VALUE, Threshold
from clusterface.export.onnx_model import ONNX_FILE, update_onnx_metadata
from clusterface.export.weights import read_model_json, write_model_json
from clusterface.inference.load import calibration_path, load


@dataclass
class CalibrationResult:
    """Thresholds measured, FARs that could not be calibrated (with why), and the files written."""

    thresholds: dict[str, Threshold]
    skipped: dict[str, str]
    written: list[Path] = field(default_factory=list)


def calibrate_model(
    model_path: str | Path,
    pairs: str | Path,
    images: str | Path | None = None,
    fars: tuple[float, ...] = CALIBRATION_FARS,
    n_boot: int = 1000,
    batch_size: int = 128,
    progress: bool = True,
) -> CalibrationResult:
    """Embed the pairs (a ``.bin`` or ``pairs.txt`` over ``images``) with the model as ``load`` gives it
    (its own preprocessing and flip test), set thresholds at ``fars`` and store them (module docstring).
    Thresholds at other FARs already stored are kept."""
    face = load(model_path)
    scores, same = score_pairs(
        face.backend, pairs, images, flip=face.metadata.flip, batch_size=batch_size, progress=progress
    )
    thresholds, skipped = calibrate_scores(scores, same, fars, n_boot=n_boot, source=str(pairs))
    result = CalibrationResult(thresholds, skipped)
    if face.source.is_dir():
        doc = read_model_json(face.source)
        meta = face.metadata
        meta.thresholds.update(thresholds)
        result.written.append(write_model_json(face.source, doc["backbone"], meta, doc.get("config")))
        if (face.source / ONNX_FILE).is_file():
            result.written.append(update_onnx_metadata(face.source / ONNX_FILE, meta))
    else:
        path = calibration_path(face.source)
        stored: dict[str, object] = {}
        if path.is_file():
            stored = json.loads(path.read_text()).get("thresholds", {})
        stored.update({k: asdict(t) for k, t in thresholds.items()})
        doc = {"format": META_FORMAT_VALUE, "model": face.source.name, "thresholds": stored}
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, path)
        result.written.append(path)
    return result
