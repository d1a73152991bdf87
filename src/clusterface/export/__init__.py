"""Export and calibration: ONNX + safetensors from a checkpoint, model metadata, thresholds at a FAR."""

from clusterface.export.calibration import CALIBRATION_FARS, calibrate_scores, clopper_pearson, score_pairs
from clusterface.export.export import ExportResult, export_checkpoint, read_checkpoint_backbone, thresholds_table
from clusterface.export.metadata import ModelMetadata, Threshold, config_hash, far_key
from clusterface.export.onnx_model import ONNX_OPSET, export_onnx, read_onnx_metadata, update_onnx_metadata
from clusterface.export.parity import ParityError, ParityResult, check_parity, parity_images
from clusterface.export.weights import ExportFormatError, load_weights, save_weights

__all__ = [
    "CALIBRATION_FARS",
    "ONNX_OPSET",
    "ExportFormatError",
    "ExportResult",
    "ModelMetadata",
    "ParityError",
    "ParityResult",
    "Threshold",
    "calibrate_scores",
    "check_parity",
    "clopper_pearson",
    "config_hash",
    "export_checkpoint",
    "export_onnx",
    "far_key",
    "load_weights",
    "parity_images",
    "read_checkpoint_backbone",
    "read_onnx_metadata",
    "save_weights",
    "score_pairs",
    "thresholds_table",
    "update_onnx_metadata",
]
