"""Faces in ordinary photos: detection with landmarks, ArcFace 5-point alignment, a folder aligner."""

from clusterface.align.detector import (
    Detection,
    DetectorUnavailableError,
    DlibDetector,
    FaceDetector,
    detector_available,
)
from clusterface.align.folder import AlignedFace, AlignResult, align_folder, detect_faces, iter_photos, read_photo
from clusterface.align.template import (
    ARCFACE_TEMPLATE,
    CROP_SIZE,
    DLIB5_TEMPLATE,
    apply_transform,
    invert_transform,
    similarity_transform,
    warp_face,
)

__all__ = [
    "ARCFACE_TEMPLATE",
    "CROP_SIZE",
    "DLIB5_TEMPLATE",
    "AlignResult",
    "AlignedFace",
    "Detection",
    "DetectorUnavailableError",
    "DlibDetector",
    "FaceDetector",
    "align_folder",
    "apply_transform",
    "detect_faces",
    "detector_available",
    "invert_transform",
    "iter_photos",
    "read_photo",
    "similarity_transform",
    "warp_face",
]
