"""The numba per-pixel core of SynthFaces: row spans, shading, camera response, noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clusterface.synth import raster
from clusterface.synth.geometry import Camera, rotation_matrix

SIZE = 64


def _camera(scale: float = 20.0, angle: float = 0.0) -> Camera:
    """Camera (x, -y) -> pixels: ``scale`` px per unit, rotated, centred in a SIZE image."""
    c, s = math.cos(angle), math.sin(angle)
    return Camera(np.array([[scale * c, -scale * s, SIZE / 2], [scale * s, scale * c, SIZE / 2]]), size=SIZE)


def _row(
    centre: tuple[float, ...], radii: tuple[float, ...], frame: np.ndarray, rot: np.ndarray | None = None
) -> np.ndarray:
    return np.concatenate([centre, radii, (np.eye(3) if rot is None else rot).ravel(), frame.ravel()]).astype(float)


@pytest.mark.parametrize("seed", range(6))
def test_row_span_holds_every_covered_pixel(seed: int) -> None:
    """_span may only skip columns where the brute-force coverage is exactly 0."""
    rng = np.random.default_rng(seed)
    frame = rotation_matrix(*rng.uniform(-60, 60, 3))
    shape_rot = rotation_matrix(*rng.uniform(-90, 90, 3))
    defs = np.stack([_row(tuple(rng.uniform(-0.8, 0.8, 3)), tuple(rng.uniform(0.05, 1.2, 3)), frame, shape_rot)])
    cam = _camera(scale=float(rng.uniform(8, 30)), angle=float(rng.uniform(-0.5, 0.5))).params()
    d = raster._derive(defs, cam, SIZE)
    covered = 0
    for row in range(SIZE):
        lo, hi = raster._span(d, 0, cam, row)
        for col in range(SIZE):
            x = cam[0] * col + cam[1] * row + cam[4]
            y = -(cam[2] * col + cam[3] * row + cam[5])
            alpha = raster._hit(d, 0, x, y, cam[12])[0]
            if alpha > 0:
                covered += 1
                assert lo <= col < hi, (row, col, lo, hi, alpha)
    assert covered > 0


def _sphere_scene(light: tuple[float, float, float]) -> tuple[np.ndarray, float]:
    """A unit-sphere 'head' (one flat-skin solid) lit by ``light``; returns the image and the gain."""
    img = np.zeros((SIZE, SIZE, 3), np.float32)
    cam = _camera()
    defs = np.stack([_row((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), np.eye(3))])
    lv = np.asarray(light, float) / np.linalg.norm(light)
    half = lv + np.array([0.0, 0.0, 1.0])
    shading = np.concatenate([lv, [1.0, 1.0, 1.0], [0.0], half / np.linalg.norm(half)])
    skin = np.array([0.6, 0.5, 0.4])
    ident = np.concatenate([[0.1, 0.1, 0.1], skin, [raster.SHORT, 0.8, 1.0, 1.0]])
    face_tex = np.broadcast_to(skin.astype(np.float32), (8, 8, 3)).copy()  # texture = plain skin
    gain = raster.render_scene(
        img,
        defs,
        cam.params(),
        shading,
        ident,
        np.zeros((0, 5), np.int64),
        np.zeros((0, 8)),
        np.array([[0, 0, 0]], np.int64),  # face-textured, not metered: no exposure gain
        np.array([0.0]),
        face_tex,
        np.array([-1.0, 1.0, 4.0]),
        np.ones((4, 4), np.float32),
    )
    return img, gain


def test_sphere_shading_is_wrapped_lambert_plus_specular() -> None:
    """Centre pixel of a sphere lit from the camera: normal (0, 0, 1), diffuse 1, full highlight."""
    img, gain = _sphere_scene((0.0, 0.0, 1.0))
    assert gain == 1.0
    centre = img[SIZE // 2, SIZE // 2]
    np.testing.assert_allclose(centre, np.array([0.6, 0.5, 0.4]) + 0.07, atol=2e-3)
    # far from the centre the sphere is darker (normal turns away), outside it nothing is drawn
    assert img[SIZE // 2, SIZE // 2 + 17].sum() < centre.sum()
    assert np.all(img[0, 0] == 0) and np.all(img[SIZE // 2, 2] == 0)


def test_light_from_the_side_darkens_the_other_side() -> None:
    img, _ = _sphere_scene((1.0, 0.0, 0.3))
    left, right = img[SIZE // 2, SIZE // 2 - 15].sum(), img[SIZE // 2, SIZE // 2 + 15].sum()
    assert right > left + 0.3


def test_camera_response_clips_rounds_and_greys() -> None:
    img = np.array([[[0.5, -0.2, 1.4], [0.2, 0.4, 0.6]]], np.float32)
    out = raster.to_uint8(img, 1.0, np.uint64(0), 0.0, False)
    assert out.tolist() == [[[128, 0, 255], [51, 102, 153]]]
    grey = raster.to_uint8(img, 1.0, np.uint64(0), 0.0, True)
    y = 0.299 * 0.5 + 0.587 * 0.0 + 0.114 * 1.0
    assert grey[0, 0].tolist() == [int(y * 255 + 0.5)] * 3


def test_sensor_noise_is_standard_and_deterministic() -> None:
    img = np.full((100, 100, 3), 0.5, np.float32)
    a = raster.to_uint8(img, 1.0, np.uint64(7), 0.05, False).astype(float)
    b = raster.to_uint8(img, 1.0, np.uint64(7), 0.05, False).astype(float)
    c = raster.to_uint8(img, 1.0, np.uint64(8), 0.05, False).astype(float)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    noise = (a - 127.5) / 255.0  # 0.5 * 255 lies between two codes
    assert abs(noise.mean()) < 0.002
    assert abs(noise.std() / 0.05 - 1.0) < 0.05
    samples = np.array([raster._gauss(np.uint64(3), k) for k in range(50_000)])
    assert abs(samples.mean()) < 0.02 and abs(samples.std() - 1.0) < 0.02
    assert 0.035 < np.mean(np.abs(samples) > 2.0) < 0.055  # Gaussian: 0.0455
