"""3D geometry of the SynthFaces renderer: rotations, ray-cast ellipsoids, 5-point alignment.

The head is a union of ellipsoids (cranium, jaw, chin, nose, ears, ...). A pixel's ray is
cast orthographically along the camera's z axis; the nearest hit gives the surface point,
its analytic normal (for Lambertian shading) and its head-frame coordinates (for texture
look-up). Features painted on the head therefore foreshorten with pose and the far side is
hidden, as in a photograph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE = 112
Field = tuple[np.ndarray, np.ndarray, np.ndarray]  # a 3-vector per pixel, one array per component
# ArcFace 5-point template for 112x112 crops (insightface): eyes, nose tip, mouth corners.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def rotation_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Head-to-camera rotation R = Rz(roll) Rx(pitch) Ry(yaw); (3, 3)."""
    y, p, r = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, scale, shift; no reflection) mapping src -> dst; (2, 3)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    norm = float((s**2).sum())
    a = float((s * d).sum()) / norm
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / norm
    lin = np.array([[a, -b], [b, a]])
    return np.hstack([lin, (mu_d - lin @ mu_s)[:, None]])


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


@dataclass
class Ellipsoid:
    """An ellipsoid ``centre + rot @ diag(radii) @ unit_sphere`` in a frame that ``frame_rot`` maps to camera."""

    centre: np.ndarray
    radii: np.ndarray
    rot: np.ndarray
    frame_rot: np.ndarray

    def __post_init__(self) -> None:
        # local unit-sphere coordinates q = K p_cam - k0
        r = self.radii
        full = self.frame_rot @ self.rot
        self.to_cam = full * r
        self.centre_cam = self.frame_rot @ self.centre
        self.K = full.T / r[:, None]
        self.k0 = self.K @ self.centre_cam
        self.mean_radius = float(r.mean())
        self.normal_mat = full / r
        self.point_mat = self.rot * r


def make_ellipsoid(
    centre: tuple[float, ...], radii: tuple[float, ...], frame_rot: np.ndarray, rot: np.ndarray | None = None
) -> Ellipsoid:
    return Ellipsoid(
        np.asarray(centre, np.float64), np.asarray(radii, np.float64), np.eye(3) if rot is None else rot, frame_rot
    )


@dataclass
class Hit:
    """A ray-cast of one ellipsoid over a pixel window ``(y0:y1, x0:x1)``."""

    window: tuple[int, int, int, int]
    t_front: np.ndarray
    t_back: np.ndarray
    alpha: np.ndarray  # soft coverage of the silhouette
    a: tuple[np.ndarray, np.ndarray, np.ndarray]  # local coordinates at depth 0
    b: np.ndarray  # local direction of the camera ray

    def local(self, t: np.ndarray) -> Field:
        """Unit-sphere local coordinates (3 arrays (h, w)) of the points at depth t (h, w)."""
        b = self.b
        return (self.a[0] + t * b[0], self.a[1] + t * b[1], self.a[2] + t * b[2])


class Camera:
    """Pixel grid -> camera-plane coordinates through the inverse of the 2D alignment."""

    def __init__(self, align: np.ndarray, size: int = SIZE) -> None:
        self.align = align  # (2, 3): camera (x, -y) -> pixels
        self.size = size
        lin = align[:, :2]
        self.inv_lin = np.linalg.inv(lin)
        self.inv_t = -self.inv_lin @ align[:, 2]
        self.px_per_unit = float(np.sqrt(abs(np.linalg.det(lin))))
        grid = np.arange(size, dtype=np.float32)
        self.u, self.v = np.meshgrid(grid, grid)

    def project(self, pts_cam: np.ndarray) -> np.ndarray:
        """Camera-frame points (N, 3) -> pixel coordinates (N, 2)."""
        flat = np.stack([pts_cam[:, 0], -pts_cam[:, 1]], axis=1)
        return flat @ self.align[:, :2].T + self.align[:, 2]

    def plane(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates -> camera-plane (X, Y) with Y up."""
        m, t = self.inv_lin, self.inv_t
        x = m[0, 0] * u + m[0, 1] * v + t[0]
        yneg = m[1, 0] * u + m[1, 1] * v + t[1]
        return x.astype(np.float32), (-yneg).astype(np.float32)

    def window(self, e: Ellipsoid) -> tuple[int, int, int, int] | None:
        """Pixel bounding box of an ellipsoid's projection, or None when off-image."""
        ext = np.sqrt((e.to_cam[:2] ** 2).sum(1))
        cx, cy = e.centre_cam[0], e.centre_cam[1]
        corners = np.array(
            [
                [cx - ext[0], cy - ext[1], 0],
                [cx + ext[0], cy - ext[1], 0],
                [cx - ext[0], cy + ext[1], 0],
                [cx + ext[0], cy + ext[1], 0],
            ]
        )
        px = self.project(corners)
        x0, y0 = np.floor(px.min(0)).astype(int) - 1
        x1, y1 = np.ceil(px.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, self.size), min(y1, self.size)
        if x0 >= x1 or y0 >= y1:
            return None
        return int(y0), int(y1), int(x0), int(x1)

    def cast(self, e: Ellipsoid) -> Hit | None:
        """Ray-cast ``e`` (orthographic, rays along camera z) over its pixel window."""
        win = self.window(e)
        if win is None:
            return None
        y0, y1, x0, x1 = win
        x, y = self.plane(self.u[y0:y1, x0:x1], self.v[y0:y1, x0:x1])
        k = e.K.astype(np.float32)
        ax = k[0, 0] * x + k[0, 1] * y - np.float32(e.k0[0])
        ay = k[1, 0] * x + k[1, 1] * y - np.float32(e.k0[1])
        az = k[2, 0] * x + k[2, 1] * y - np.float32(e.k0[2])
        b = k[:, 2]
        bb = float(b @ b)
        ab = ax * b[0] + ay * b[1] + az * b[2]
        # s = 1 - |A_perp|^2: > 0 inside the silhouette, ~ 2 * signed distance / radius near it
        s = ab * ab / bb - (ax * ax + ay * ay + az * az) + 1.0
        alpha = np.clip(0.5 + s * (0.5 * e.mean_radius * self.px_per_unit), 0.0, 1.0)
        root = np.sqrt(np.maximum(s, 0.0) / bb)
        base = -ab / bb
        return Hit(win, base + root, base - root, alpha, (ax, ay, az), b)


def _apply(m: np.ndarray, q: Field, offset: np.ndarray | None = None) -> Field:
    """3x3 matrix times a field of vectors q (3 arrays), plus an optional constant offset."""
    rows = m.astype(np.float32)  # the same float32 scalars as np.float32(float(v)), in one call
    o = [0.0, 0.0, 0.0] if offset is None else offset.tolist()
    out = []
    q0, q1, q2 = q
    for i in range(3):
        row = rows[i]
        r = q0 * row[0]
        r += q1 * row[1]
        r += q2 * row[2]
        if o[i]:
            r += np.float32(o[i])
        out.append(r)
    return out[0], out[1], out[2]


def surface_normal_cam(e: Ellipsoid, q: Field) -> Field:
    """Camera-frame unit normals (3 arrays) at local unit-sphere points q (3 arrays)."""
    n = _apply(e.normal_mat, q)
    inv = 1.0 / np.maximum(np.sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]), np.float32(1e-6))
    return n[0] * inv, n[1] * inv, n[2] * inv


def frame_point(e: Ellipsoid, q: Field) -> Field:
    """Points (3 arrays) in the ellipsoid's frame (e.g. head frame) from local unit-sphere points."""
    return _apply(e.point_mat, q, e.centre)
