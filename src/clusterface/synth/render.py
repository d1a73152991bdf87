"""Render one SynthFaces image: a posed, lit, textured 3D head, aligned to the ArcFace template.

Pipeline (all at 112x112; scene set-up in numpy, pixels in :mod:`clusterface.synth.raster`
(numba), 2D overlays and degradations in OpenCV):
1. identity -> head made of ellipsoids (cranium, jaw, chin, nose bridge, nose, ears), hair shell
   and optional long-hair curtain, bun, neck and shoulders;
2. pose (yaw, pitch, roll) rotates the head; its 5 landmarks (eye centres, nose tip, mouth
   corners) are projected and a similarity is fitted to the ArcFace template (what a face
   aligner does), then alignment jitter is applied;
3. every pixel's ray is cast into the ellipsoids; the nearest hit gives a head-frame point
   (texture look-up: skin, eyes, brows, lips, marks) and an analytic normal (Lambertian +
   a little specular light);
4. layers are composited back to front: background, back hair, body, head, front hair, hat,
   glasses, occluders; then exposure, low resolution, blur, noise, grayscale.
JPEG encoding (the image's quality is part of its nuisance) happens in :func:`encode_jpeg`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import cv2
import numpy as np

from clusterface.ops.face_template import ARCFACE_TEMPLATE
from clusterface.ops.face_template import similarity_transform as fit_similarity
from clusterface.synth.geometry import (
    SIZE,
    Camera,
    Ellipsoid,
    make_ellipsoid,
    rotation_matrix,
    similarity_about,
)
from clusterface.synth.identity import _SKIN_RAMP, HAIR_STYLES, Identity, nose_tip
from clusterface.synth.nuisance import Nuisance
from clusterface.synth.raster import render_scene, to_uint8
from clusterface.synth.texture import TEX_PER_UNIT, TEX_X0, TEX_Y1, face_texture

_AA = cv2.LINE_AA
_SHIFT = 4
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class Rendered:
    """A rendered face: ``image`` uint8 (112, 112, 3) RGB and its 5 ``landmarks`` (5, 2) in pixels."""

    image: np.ndarray
    landmarks: np.ndarray


def _rx(a: float) -> np.ndarray:
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def _ry(a: float) -> np.ndarray:
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def _front_z(e: Ellipsoid, x: float, y: float) -> float:
    """Largest z of ellipsoid ``e`` (frame coordinates) on the line (x, y, *), or -inf."""
    k = np.diag(1.0 / e.radii) @ e.rot.T
    a = k @ (np.array([x, y, 0.0]) - e.centre)
    b = k[:, 2]
    bb, ab, aa = b @ b, a @ b, a @ a
    disc = ab * ab - bb * (aa - 1.0)
    if disc < 0:
        return -np.inf
    return float((-ab + np.sqrt(disc)) / bb)


@dataclass(frozen=True)
class HeadModel:
    """Identity-level 3D layout (head frame), computed once per identity."""

    solids: tuple[tuple[str, tuple[float, ...], tuple[float, ...], np.ndarray], ...]
    landmarks: np.ndarray  # (5, 3)
    eye_z: float
    solid_rows: np.ndarray  # (n, 15): centre, radii, shape rotation of each solid (raster's table, less the frame)
    solid_codes: np.ndarray  # (n, 2) int64: albedo kind, metered for exposure (raster's solids_i, less the row)
    solid_softness: np.ndarray  # (n,): smooth-union softness, 0 = sharp


def head_model(ident: Identity) -> HeadModel:
    """Ellipsoids of the head and the 3D positions of the 5 landmarks."""
    eye = np.eye(3)
    cranium = make_ellipsoid(ident.cranium_c, ident.cranium_r)
    nose_y = ident.nose_c[1]
    z_at_nose = _front_z(cranium, 0.0, nose_y)
    nose_c = (0.0, nose_y, z_at_nose - ident.nose_r[2] * 0.35)
    nose_rot = _rx(-ident.nose_tilt)
    z_at_eyes = _front_z(cranium, 0.0, ident.eye_y)
    bridge_c = (0.0, ident.eye_y - 0.12, z_at_eyes - ident.bridge_r[2] * 0.75)
    bridge_rot = _rx(-0.25)
    ear_r = (0.06, 0.24 * ident.ear_size, 0.15 * ident.ear_size)
    solids: list[tuple[str, tuple[float, ...], tuple[float, ...], np.ndarray]] = [
        ("cranium", ident.cranium_c, ident.cranium_r, eye),
        ("jaw", ident.jaw_c, ident.jaw_r, eye),
        ("chin", ident.chin_c, ident.chin_r, eye),
        ("bridge", bridge_c, ident.bridge_r, bridge_rot),
        ("nose", nose_c, ident.nose_r, nose_rot),
    ]
    # nose tip and wings (alae): a ball and two small ellipsoids at the base of the dorsum
    tip_y, tip_r = nose_tip(nose_y, ident.nose_r[0], ident.nose_r[1])
    tip_z = _front_z(cranium, 0.0, tip_y) + 0.75 * ident.nose_r[2] - 0.3 * tip_r
    solids.append(("tip", (0.0, tip_y, tip_z), (tip_r, tip_r * 0.9, tip_r), eye))
    for s in (-1, 1):
        ala_r = (0.055 + 0.2 * ident.nose_r[0] - 0.02, 0.05, 0.06)
        solids.append(("ala", (s * (ident.nose_r[0] * 0.75 + 0.02), tip_y - 0.01, tip_z - tip_r - 0.02), ala_r, eye))
    for s in (-1, 1):
        solids.append(("ear", (s * ident.cranium_r[0] * 0.95, -0.08, -0.1), ear_r, _ry(-s * ident.ear_protrude)))
    face_solids = [make_ellipsoid(c, r, rot) for name, c, r, rot in solids if name != "ear"]

    def surface_z(x: float, y: float) -> float:
        return max(_front_z(e, x, y) for e in face_solids)

    tip = np.array([0.0, tip_y, tip_z + tip_r])
    ez = surface_z(ident.eye_x, ident.eye_y)
    mz = surface_z(ident.mouth_w, ident.mouth_y)
    landmarks = np.array(
        [
            [-ident.eye_x, ident.eye_y, ez],
            [ident.eye_x, ident.eye_y, ez],
            [tip[0], tip[1], tip[2]],
            [-ident.mouth_w, ident.mouth_y, mz],
            [ident.mouth_w, ident.mouth_y, mz],
        ]
    )
    return HeadModel(
        tuple(solids),
        landmarks,
        ez,
        np.array([np.concatenate([c, r, rot.ravel()]) for _, c, r, rot in solids], np.float64),
        np.array([[_SOLID_KIND.get(n, 0), int(n in ("cranium", "jaw", "chin"))] for n, *_ in solids], np.int64),
        np.array([_SMOOTH.get(n, 0.0) for n, *_ in solids], np.float64),
    )


_V = TypeVar("_V")


def _per_identity(cache: dict[Any, _V], key: tuple[Any, ...], make: Callable[[], _V], size: int = 512) -> _V:
    """``cache[key]``, made by ``make()`` on a miss; the cache is emptied when it outgrows ``size``."""
    value = cache.get(key)
    if value is None:
        if len(cache) > size:
            cache.clear()
        value = cache[key] = make()
    return value


_HEAD_CACHE: dict[tuple[int, bytes], HeadModel] = {}


def _cached_head(ident: Identity) -> HeadModel:
    return _per_identity(_HEAD_CACHE, (ident.index, ident.genes.tobytes()), lambda: head_model(ident))


_HAIR_TEX_W, _HAIR_TEX_H = 512, 96
_HAIR_TEX: dict[tuple[int, bytes, bool], np.ndarray] = {}


def _hair_texture(ident: Identity, curly: bool) -> np.ndarray:
    """Brightness pattern of the hair (float32 (H, W)) over (angle around the head, height); cached."""
    return _per_identity(_HAIR_TEX, (ident.index, ident.genes.tobytes(), curly), lambda: _draw_hair(ident, curly), 256)


def _draw_hair(ident: Identity, curly: bool) -> np.ndarray:
    rng = np.random.default_rng([ident.index, 11] + [int(g * 1e6) for g in ident.genes[:4]])
    if curly:
        noise = rng.random((_HAIR_TEX_H // 3, _HAIR_TEX_W // 6)).astype(np.float32)
        tex = cv2.resize(noise, (_HAIR_TEX_W, _HAIR_TEX_H), interpolation=cv2.INTER_CUBIC)
    else:
        strands: np.ndarray = rng.random((1, _HAIR_TEX_W)).astype(np.float32)
        strands = cv2.GaussianBlur(strands, (0, 0), 1.2)
        waves = rng.random((4, _HAIR_TEX_W // 16)).astype(np.float32)
        tex = 0.7 * np.repeat(strands, _HAIR_TEX_H, 0) + 0.3 * cv2.resize(
            waves, (_HAIR_TEX_W, _HAIR_TEX_H), interpolation=cv2.INTER_CUBIC
        )
    return (0.72 + 0.45 * (tex - tex.min()) / (np.ptp(tex) + 1e-6)).astype(np.float32)


BACKGROUNDS = 1024  # distinct backdrops per seed; each is also used mirrored (4 variants)
_BACKGROUND_BANK: dict[tuple[int, int], np.ndarray] = {}


def background(seed: int, background_seed: int) -> np.ndarray:
    """The backdrop of an image (float32 (112, 112, 3), a fresh array).

    Backdrops come from a bank of :data:`BACKGROUNDS` per seed, each drawn once per process
    (8-bit) and reused, mirrored left-right and/or up-down by two more bits of the image's
    draw: backgrounds carry no identity, and drawing a new one for every image cost about a
    tenth of the render time."""
    k = background_seed % BACKGROUNDS
    bank = _BACKGROUND_BANK.get((seed, k))
    if bank is None:
        if len(_BACKGROUND_BANK) >= BACKGROUNDS:
            _BACKGROUND_BANK.clear()
        bank = np.clip(_background(np.random.default_rng([seed, 4, k])) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        _BACKGROUND_BANK[(seed, k)] = bank
    flip = (background_seed // BACKGROUNDS) % 4
    view = bank[:, ::-1] if flip & 1 else bank
    view = view[::-1] if flip & 2 else view
    return view.astype(np.float32) * np.float32(1.0 / 255.0)


def _background(rng: np.random.Generator) -> np.ndarray:
    """A plausible cluttered or plain backdrop (float32 (112, 112, 3))."""
    kind = rng.integers(0, 3)
    cells = int(rng.integers(2, 5))
    base = rng.uniform(0.05, 0.95, (cells, cells, 3)).astype(np.float32)
    grey = base.mean(axis=2, keepdims=True)
    base = 0.45 * base + 0.55 * grey  # real backdrops are mostly desaturated
    img = cv2.resize(base, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    if kind >= 1:
        for _ in range(int(rng.integers(1, 6))):
            x0, y0 = rng.integers(-20, SIZE, 2)
            w, h = rng.integers(8, 70, 2)
            c = rng.uniform(0.05, 0.95, 3)
            c = 0.5 * c + 0.5 * c.mean()
            cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), tuple(float(v) for v in c), -1, _AA)
    if kind == 2:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(1.0, 4.0)))
    return np.clip(img, 0.0, 1.0)


# solids whose union is smoothed (normals blended across the seam) and its softness in head units
_SMOOTH = {"cranium": 0.2, "jaw": 0.2, "chin": 0.1, "bridge": 0.05, "tip": 0.03, "ala": 0.04}


def _aligned_camera(model: HeadModel, rot: np.ndarray, nuis: Nuisance) -> tuple[Camera, np.ndarray]:
    """Fit the projected landmarks to the ArcFace template (what a face aligner does), then jitter."""
    lm_cam = model.landmarks @ rot.T
    src = np.stack([lm_cam[:, 0], -lm_cam[:, 1]], 1)
    align = np.vstack([fit_similarity(src, ARCFACE_TEMPLATE), [0.0, 0.0, 1.0]])
    jitter = similarity_about((SIZE / 2, SIZE / 2), nuis.jitter_scale, nuis.jitter_rot, nuis.jitter_shift)
    cam = Camera((jitter @ align)[:2])
    return cam, cam.project(lm_cam).astype(np.float32)


def image_landmarks(ident: Identity, nuis: Nuisance) -> np.ndarray:
    """The 5 landmarks (5, 2) of an image in pixels, without rendering it."""
    return _aligned_camera(_cached_head(ident), rotation_matrix(nuis.yaw, nuis.pitch, nuis.roll), nuis)[1]


def _ellipsoid_row(centre: object, radii: object, frame: np.ndarray, rot: np.ndarray | None = None) -> np.ndarray:
    """One row of :mod:`raster`'s ellipsoid table: centre, radii, shape rotation, frame rotation."""
    return np.concatenate(
        [
            np.asarray(centre, np.float64),
            np.asarray(radii, np.float64),
            (_EYE if rot is None else rot).ravel(),
            frame.ravel(),
        ]
    )


_EYE = np.eye(3)
_STYLE_CODE = {name: code for code, name in enumerate(HAIR_STYLES)}
_SOLID_KIND = {"ear": 1, "bun": 2}
_TEX_MAP = np.array([TEX_X0, TEX_Y1, TEX_PER_UNIT])
_BUN_ROW = np.concatenate([(0.0, 0.75, -0.75), (0.38, 0.33, 0.33), np.eye(3).ravel()])


def _layer(
    row: int,
    phase: int,
    *,
    back: bool = False,
    albedo: int = 0,
    region: int = 0,
    spec: float = 0.05,
    colour: object = (0.0, 0.0, 0.0),
    height: float = 0.0,
    width: float = 1.0,
    depth_test: bool = False,
) -> tuple[list[int], list[float]]:
    """One single-ellipsoid layer for :func:`raster.render_scene` (integer and float parts)."""
    c = np.asarray(colour, np.float64)
    return [row, phase, int(back), albedo, region], [spec, 0.2, c[0], c[1], c[2], height, width, float(depth_test)]


@dataclass(frozen=True)
class _Scene:
    """An identity's scene tables for :func:`raster.render_scene`, less what each image sets: the
    frame-to-camera rotations of the ellipsoid table (head rows and body rows) and the hat's
    brim and colour. Built once per identity and hat/no hat."""

    defs: np.ndarray  # (n, 24), frame columns to be filled
    head_rows: np.ndarray  # rows that turn with the head
    body_rows: np.ndarray  # shoulders and neck: turn with 0.3 of the head's yaw and roll
    layers_i: np.ndarray
    layers_f: np.ndarray
    hat_layer: int  # row of layers_f holding the hat, -1 without a hat
    solids_i: np.ndarray
    softness: np.ndarray
    ident_row: np.ndarray


_SCENES: dict[tuple[int, bytes, bool], _Scene] = {}


def _scene(ident: Identity, model: HeadModel, hat: bool) -> _Scene:
    return _per_identity(_SCENES, (ident.index, ident.genes.tobytes(), hat), lambda: _build_scene(ident, model, hat))


def _build_scene(ident: Identity, model: HeadModel, hat: bool) -> _Scene:
    style = ident.hair_style
    cr = np.asarray(ident.cranium_r)
    vol = ident.hair_volume * (2.2 if style == "curly" else 0.35 if style in ("buzz", "bald") else 1.0)
    rows: list[np.ndarray] = []
    head_rows: list[int] = []
    body_rows: list[int] = []
    layers: list[tuple[list[int], list[float]]] = []
    shell = len(rows)
    head_rows.append(len(rows))
    rows.append(
        _ellipsoid_row((0.0, ident.cranium_c[1] + 0.5 * vol, ident.cranium_c[2] - 0.3 * vol), cr * (1 + vol), _EYE)
    )
    # back layers: long-hair curtain, inside of the hair shell, shoulders and neck
    if style == "long":
        head_rows.append(len(rows))
        rows.append(_ellipsoid_row((0.0, -0.55, -0.4), (cr[0] + vol + 0.08, 1.35, 0.72), _EYE))
        layers.append(_layer(len(rows) - 1, 0, albedo=1, region=1, spec=0.1, height=ident.hair_length, width=0.08))
    layers.append(_layer(shell, 0, back=True, albedo=2, region=2, spec=0.0))
    for c, r, col in (
        ((0.0, -2.75, -0.35), (2.1, 1.2, 0.95), ident.clothing),
        ((0.0, -1.45, -0.25), (0.5, 0.8, 0.45), ident.skin * 0.9),
    ):
        body_rows.append(len(rows))
        rows.append(_ellipsoid_row(c, r, _EYE))
        layers.append(_layer(len(rows) - 1, 0, colour=np.asarray(col, np.float32)))
    # front hair, depth-tested against the head; then a hat (brim and colour set per image)
    layers.append(_layer(shell, 1, albedo=1, region=2, spec=0.12, depth_test=True))
    hat_layer = -1
    if hat:
        head_rows.append(len(rows))
        rows.append(
            _ellipsoid_row((0.0, ident.cranium_c[1] + 0.05, ident.cranium_c[2] - 0.05), cr * (1 + vol + 0.1), _EYE)
        )
        hat_layer = len(layers)
        layers.append(_layer(len(rows) - 1, 1, region=1, width=0.03))

    # head: union of ellipsoids, nearest hit wins; the smooth group blends normals across seams
    solid_rows, solid_codes, softness = model.solid_rows, model.solid_codes, model.solid_softness
    if style == "bun":
        solid_rows = np.vstack([solid_rows, _BUN_ROW])
        solid_codes = np.vstack([solid_codes, [[_SOLID_KIND["bun"], 0]]])
        softness = np.append(softness, 0.0)
    first = len(rows)
    head_solids = np.hstack([solid_rows, np.broadcast_to(_EYE.ravel(), (len(solid_rows), 9))])
    ident_row = np.concatenate(
        [ident.hair, ident.skin, [_STYLE_CODE[style], ident.hairline, np.sign(ident.hair_part + 1e-3), cr[2]]]
    ).astype(np.float64)
    return _Scene(
        defs=np.vstack([np.stack(rows), head_solids]),
        head_rows=np.array(head_rows + list(range(first, first + len(solid_rows))), np.intp),
        body_rows=np.array(body_rows, np.intp),
        layers_i=np.array([li for li, _ in layers], np.int64),
        layers_f=np.array([lf for _, lf in layers], np.float64),
        hat_layer=hat_layer,
        solids_i=np.hstack([np.arange(first, first + len(solid_rows))[:, None], solid_codes]),
        softness=softness,
        ident_row=ident_row,
    )


def render_face(ident: Identity, nuis: Nuisance, seed: int) -> Rendered:
    """Render one aligned 112x112 face (before JPEG)."""
    model = _cached_head(ident)
    rot = rotation_matrix(nuis.yaw, nuis.pitch, nuis.roll)
    body_rot = rotation_matrix(0.3 * nuis.yaw, 0.0, 0.3 * nuis.roll)

    cam, landmarks = _aligned_camera(model, rot, nuis)

    light = np.asarray(nuis.light_dir, np.float64)
    light = light / np.linalg.norm(light)
    half = light + np.array([0.0, 0.0, 1.0])
    shading = np.concatenate(
        [
            light,
            np.asarray(nuis.light_colour) * nuis.light_intensity,
            [nuis.ambient / nuis.light_intensity],
            half / np.linalg.norm(half),
        ]
    )
    occ_rng = np.random.default_rng([seed, 3, nuis.occluder_seed])
    img = background(seed, nuis.background_seed)

    scene = _scene(ident, model, nuis.occluder == "hat")
    defs = scene.defs.copy()
    defs[scene.head_rows, 15:] = rot.ravel()
    defs[scene.body_rows, 15:] = body_rot.ravel()
    layers_f = scene.layers_f
    mask_colour = None
    if nuis.occluder == "mask":
        mask_colour = np.array(
            [(0.62, 0.78, 0.9), (0.92, 0.92, 0.92), (0.12, 0.12, 0.14), (0.3, 0.5, 0.8)][int(occ_rng.integers(0, 4))],
            np.float32,
        )
    if scene.hat_layer >= 0:
        layers_f = layers_f.copy()
        layers_f[scene.hat_layer, 5] = float(occ_rng.uniform(0.45, 0.7))  # brim height
        layers_f[scene.hat_layer, 2:5] = occ_rng.uniform(0.05, 0.8, 3).astype(np.float32)

    tex = face_texture(
        ident, seed, nuis.smile, nuis.mouth_open, nuis.eyes_closed, nuis.brows_raised, nuis.gaze, mask_colour
    )
    render_scene(
        img,
        defs,
        cam.params(),
        shading,
        scene.ident_row,
        scene.layers_i,
        layers_f,
        scene.solids_i,
        scene.softness,
        tex,
        _TEX_MAP,
        _hair_texture(ident, ident.hair_style == "curly"),
    )

    if ident.glasses or nuis.occluder == "sunglasses":
        _draw_glasses(img, cam, ident, model, rot, sunglasses=nuis.occluder == "sunglasses")
    if nuis.occluder in ("hand", "bar"):
        _draw_occluder_2d(img, nuis.occluder, occ_rng)

    img = _degrade(img, nuis, np.random.default_rng([seed, 5, nuis.background_seed]))
    return Rendered(img, landmarks)


def _draw_glasses(
    img: np.ndarray, cam: Camera, ident: Identity, model: HeadModel, rot: np.ndarray, sunglasses: bool
) -> None:
    style = ident.glasses_style
    hw, hh = 0.16 + 0.04 * style, 0.105 + 0.03 * (1 - style)
    power = 2.0 if style < 0.5 else 5.0
    z = model.eye_z + 0.1
    ang = np.linspace(0, 2 * np.pi, 28, endpoint=False)
    c, s = np.cos(ang), np.sin(ang)
    ex = np.sign(c) * np.abs(c) ** (2 / power)
    ey = np.sign(s) * np.abs(s) ** (2 / power)
    frame_col = (0.08, 0.07, 0.07) if style < 0.7 else (0.55, 0.5, 0.42)
    thick = 1 if style < 0.35 else 2
    rims = []
    for side in (-1, 1):
        pts = np.stack(
            [side * ident.eye_x + hw * ex, ident.eye_y - 0.01 + hh * ey, np.full_like(ex, z) - 0.04 * (ex * side) ** 2],
            1,
        )
        rims.append(np.round(cam.project(pts @ rot.T) * _ONE).astype(np.int32).reshape(-1, 1, 2))
    if sunglasses:
        overlay = img.copy()
        cv2.fillPoly(overlay, rims, (0.04, 0.04, 0.05), _AA, _SHIFT)
        cv2.addWeighted(overlay, 0.9, img, 0.1, 0.0, dst=img)
    else:
        overlay = img.copy()
        cv2.fillPoly(overlay, rims, (0.9, 0.93, 0.95), _AA, _SHIFT)
        cv2.addWeighted(overlay, 0.08, img, 0.92, 0.0, dst=img)
    cv2.polylines(img, rims, True, frame_col, thick if not sunglasses else 2, _AA, _SHIFT)
    bridge = np.array(
        [
            [-ident.eye_x + hw * 0.95, ident.eye_y + 0.02, z],
            [0.0, ident.eye_y + 0.05, z + 0.04],
            [ident.eye_x - hw * 0.95, ident.eye_y + 0.02, z],
        ]
    )
    cv2.polylines(
        img,
        [np.round(cam.project(bridge @ rot.T) * _ONE).astype(np.int32).reshape(-1, 1, 2)],
        False,
        frame_col,
        thick,
        _AA,
        _SHIFT,
    )
    for side in (-1, 1):
        if (rot @ np.array([side, 0.0, 0.0]))[2] < -0.25:
            continue  # temple on the far side is hidden by the head
        arm = np.array(
            [
                [side * (ident.eye_x + hw), ident.eye_y + 0.02, z - 0.05],
                [side * ident.cranium_r[0] * 1.02, ident.eye_y + 0.0, -0.2],
            ]
        )
        cv2.polylines(
            img,
            [np.round(cam.project(arm @ rot.T) * _ONE).astype(np.int32).reshape(-1, 1, 2)],
            False,
            frame_col,
            thick,
            _AA,
            _SHIFT,
        )


def _draw_occluder_2d(img: np.ndarray, kind: str, rng: np.random.Generator) -> None:
    if kind == "bar":
        colour = tuple(float(c) for c in rng.uniform(0.0, 0.9, 3))
        p0 = rng.uniform(-10, SIZE + 10, 2)
        ang = rng.uniform(0, np.pi)
        d = np.array([np.cos(ang), np.sin(ang)]) * 200
        cv2.line(
            img, tuple(int(v) for v in p0 - d), tuple(int(v) for v in p0 + d), colour, int(rng.integers(6, 18)), _AA
        )
        return
    tone = _SKIN_RAMP[int(rng.integers(0, len(_SKIN_RAMP)))]
    cx, cy = rng.uniform(25, 90), rng.uniform(70, 115)
    ang = rng.uniform(-40, 40)
    overlay = img.copy()
    cv2.ellipse(
        overlay,
        (int(cx), int(cy)),
        (int(rng.uniform(16, 24)), int(rng.uniform(20, 28))),
        ang,
        0,
        360,
        tuple(float(c) for c in tone * 0.9),
        -1,
        _AA,
    )
    for f in range(4):
        a = np.deg2rad(ang - 90 + (f - 1.5) * 12)
        base = np.array([cx, cy]) + 18 * np.array([np.cos(a), np.sin(a)])
        tip = base + rng.uniform(16, 24) * np.array([np.cos(a), np.sin(a)])
        cv2.line(
            overlay,
            tuple(int(v) for v in base),
            tuple(int(v) for v in tip),
            tuple(float(c) for c in tone * (0.95 - 0.05 * f)),
            7,
            _AA,
        )
    img[:] = overlay


def _degrade(img: np.ndarray, nuis: Nuisance, rng: np.random.Generator) -> np.ndarray:
    """Low resolution, optical blur, exposure, sensor noise, grayscale; float image -> uint8."""
    if nuis.low_res < 0.999:
        small = max(12, round(SIZE * nuis.low_res))
        img = cv2.resize(
            cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (SIZE, SIZE), interpolation=cv2.INTER_LINEAR
        )
    sigma = max(0.45, nuis.blur_sigma)  # a little optical blur always: real crops are never pixel-sharp
    img = cv2.GaussianBlur(img, (0, 0), sigma)
    noise_seed = np.uint64(rng.integers(0, 2**63))
    return to_uint8(img, float(nuis.exposure), noise_seed, float(nuis.noise_sigma), bool(nuis.grayscale))


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """RGB uint8 -> JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
