"""The ArcFace 5-point template and the similarity transform that maps detected landmarks onto it.

Coordinates are (x, y) pixels of the 112×112 crop. ``ARCFACE_TEMPLATE`` is insightface's
(``arcface_dst``): image-left eye, image-right eye, nose tip, image-left and image-right mouth corner.

dlib's 5-point landmark model marks other points: the two corners of each eye and the base of the
nose (no mouth). ``DLIB5_TEMPLATE`` says where those points sit in ArcFace-aligned crops. It was
measured by hand once on two public-domain photographs (``obama.jpg`` and ``biden.jpg`` of the
``face_recognition`` 1.3.0 source distribution): the five ArcFace points were read off a zoomed
pixel grid, the similarity transform from them to ``ARCFACE_TEMPLATE`` was fitted, and dlib's
points were mapped through it and averaged over the two faces. A third photograph (``obama3.jpg``)
is held out to check it (tests/align).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

# The template and the similarity fit are shared with IJB crops and SynthFaces (clusterface.ops); re-exported here.
from clusterface.ops.face_template import ARCFACE_TEMPLATE as ARCFACE_TEMPLATE
from clusterface.ops.face_template import similarity_transform as similarity_transform

CROP_SIZE = 112

# dlib order: image-right eye outer and inner corner, image-left eye outer and inner corner, nose base
DLIB5_TEMPLATE: NDArray[np.float64] = np.array(
    [[79.45, 54.25], [65.8, 54.0], [31.05, 53.65], [44.4, 53.85], [56.15, 80.15]]
)


def apply_transform(m: ArrayLike, points: ArrayLike) -> NDArray[np.float64]:
    """Points (N, 2) through a 2×3 affine matrix."""
    p = np.asarray(points, dtype=np.float64)
    return p @ np.asarray(m)[:, :2].T + np.asarray(m)[:, 2]


def invert_transform(m: ArrayLike) -> NDArray[np.float64]:
    """The inverse of a 2×3 affine matrix."""
    return np.asarray(cv2.invertAffineTransform(np.asarray(m, dtype=np.float64)), dtype=np.float64)


def warp_face(rgb: NDArray[np.uint8], m: ArrayLike, size: int = CROP_SIZE) -> NDArray[np.uint8]:
    """The ``size × size`` crop of ``rgb`` (H, W, 3) under ``m`` (bilinear; outside the photo is black).

    ``size`` other than 112 scales the template with it.
    """
    mat = np.asarray(m, dtype=np.float64) * (size / CROP_SIZE)
    out = cv2.warpAffine(rgb, mat, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    return np.asarray(out, dtype=np.uint8)
