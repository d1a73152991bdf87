"""3D geometry of the SynthFaces renderer: rotations, ellipsoids, the camera, 5-point alignment.

The head is a union of ellipsoids (cranium, jaw, chin, nose, ears, ...). The camera is
orthographic along its z axis; its 2D part is the similarity that aligns the projected
landmarks to the ArcFace template. The per-pixel ray casting lives in
:mod:`clusterface.synth.raster`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE = 112


def rotation_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Head-to-camera rotation R = Rz(roll) Rx(pitch) Ry(yaw); (3, 3)."""
    y, p, r = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def similarity_about(
    centre: tuple[float, float], scale: float, angle_deg: float, shift: tuple[float, float]
) -> np.ndarray:
    """Similarity that scales and rotates about ``centre`` then shifts; (3, 3) homogeneous."""
    a = np.deg2rad(angle_deg)
    lin = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    c = np.asarray(centre, np.float64)
    t = c - lin @ c + np.asarray(shift, np.float64)
    out = np.eye(3)
    out[:2, :2] = lin
    out[:2, 2] = t
    return out


@dataclass(frozen=True)
class Ellipsoid:
    """An ellipsoid ``centre + rot @ diag(radii) @ unit_sphere`` in its frame (e.g. the head frame)."""

    centre: np.ndarray
    radii: np.ndarray
    rot: np.ndarray


def make_ellipsoid(centre: tuple[float, ...], radii: tuple[float, ...], rot: np.ndarray | None = None) -> Ellipsoid:
    return Ellipsoid(np.asarray(centre, np.float64), np.asarray(radii, np.float64), np.eye(3) if rot is None else rot)


class Camera:
    """Pixel grid -> camera-plane coordinates through the inverse of the 2D alignment."""

    def __init__(self, align: np.ndarray, size: int = SIZE) -> None:
        self.align = align  # (2, 3): camera (x, -y) -> pixels
        self.size = size
        (a, b, _), (c, d, _) = align.tolist()
        det = a * d - b * c  # closed-form 2x2 inverse: np.linalg costs more than the rest of the set-up
        self.inv_lin = np.array([[d / det, -b / det], [-c / det, a / det]])
        self.inv_t = -self.inv_lin @ align[:, 2]
        self.px_per_unit = abs(det) ** 0.5

    def project(self, pts_cam: np.ndarray) -> np.ndarray:
        """Camera-frame points (N, 3) -> pixel coordinates (N, 2)."""
        flat = np.stack([pts_cam[:, 0], -pts_cam[:, 1]], axis=1)
        return flat @ self.align[:, :2].T + self.align[:, 2]

    def params(self) -> np.ndarray:
        """The (13,) camera vector of :mod:`clusterface.synth.raster`: inverse map, alignment, pixels per unit."""
        return np.concatenate([self.inv_lin.ravel(), self.inv_t, self.align.ravel(), [self.px_per_unit]])
