"""Using a trained model: ``load(path)`` -> FaceEmbedder with ``embed``, ``similarity``, ``verify``."""

from clusterface.inference.calibrate import CalibrationResult, calibrate_model
from clusterface.inference.face_embedder import FaceEmbedder, NoThresholdError
from clusterface.inference.inputs import to_face_batch
from clusterface.inference.load import calibration_path, load, read_calibration

__all__ = [
    "CalibrationResult",
    "FaceEmbedder",
    "NoThresholdError",
    "calibrate_model",
    "calibration_path",
    "load",
    "read_calibration",
    "to_face_batch",
]
