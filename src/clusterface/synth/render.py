"""Render one SynthFaces image: a posed, lit, textured 3D head, aligned to the ArcFace template.

Pipeline (all at 112x112, numpy + OpenCV):
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
JPEG encoding (the image's quality is part of its nuisance) happens in :func:`render_jpeg`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from clusterface.synth.geometry import (
    ARCFACE_TEMPLATE,
    SIZE,
    Camera,
    Ellipsoid,
    Field,
    Hit,
    fit_similarity,
    frame_point,
    make_ellipsoid,
    rotation_matrix,
    similarity_about,
    surface_normal_cam,
)
from clusterface.synth.identity import _SKIN_RAMP, Identity
from clusterface.synth.nuisance import Nuisance
from clusterface.synth.texture import face_texture, tex_coords

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


def head_model(ident: Identity) -> HeadModel:
    """Ellipsoids of the head and the 3D positions of the 5 landmarks."""
    eye = np.eye(3)
    cranium = make_ellipsoid(ident.cranium_c, ident.cranium_r, eye)
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
    tip_y = nose_y - 0.72 * ident.nose_r[1]
    tip_r = 0.55 * ident.nose_r[0] + 0.02
    tip_z = _front_z(cranium, 0.0, tip_y) + 0.75 * ident.nose_r[2] - 0.3 * tip_r
    solids.append(("tip", (0.0, tip_y, tip_z), (tip_r, tip_r * 0.9, tip_r), eye))
    for s in (-1, 1):
        ala_r = (0.055 + 0.2 * ident.nose_r[0] - 0.02, 0.05, 0.06)
        solids.append(("ala", (s * (ident.nose_r[0] * 0.75 + 0.02), tip_y - 0.01, tip_z - tip_r - 0.02), ala_r, eye))
    for s in (-1, 1):
        solids.append(("ear", (s * ident.cranium_r[0] * 0.95, -0.08, -0.1), ear_r, _ry(-s * ident.ear_protrude)))
    face_solids = [make_ellipsoid(c, r, eye, rot) for name, c, r, rot in solids if name != "ear"]

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
    return HeadModel(tuple(solids), landmarks, ez)


_HEAD_CACHE: dict[tuple[int, bytes], HeadModel] = {}


def _cached_head(ident: Identity) -> HeadModel:
    key = (ident.index, ident.genes.tobytes())
    model = _HEAD_CACHE.get(key)
    if model is None:
        if len(_HEAD_CACHE) > 512:
            _HEAD_CACHE.clear()
        model = head_model(ident)
        _HEAD_CACHE[key] = model
    return model


def _smooth_step(v: np.ndarray, width: float) -> np.ndarray:
    return np.clip(v / width + 0.5, 0.0, 1.0)


def hair_region(ident: Identity, style: str, p: Field, shell_rz: float) -> np.ndarray:
    """Soft hair coverage (N,) of head-frame points p (3, N) on the hair shell."""
    x, y, z = p
    w = np.clip(z / shell_rz, -1.0, 1.0)
    hl = ident.hairline
    if style == "fringe":
        front = 0.42 + 0.025 * np.sin(x * 30.0) + 0.05 * x**2
    elif style == "side_part":
        front = hl - 0.05 + 0.16 * np.clip(x * np.sign(ident.hair_part + 1e-3), -1, 1) + 0.1 * x**2
    elif style == "curly":
        front = hl - 0.05 + 0.03 * np.sin(x * 22.0) + 0.12 * x**2
    else:
        front = hl + 0.2 * x**2
    long_hair = style == "long"
    side = -0.35 if long_hair else 0.22
    back = -0.35 if long_hair else -0.55
    wf = np.clip(w, 0.0, 1.0) ** 1.5
    wb = np.clip(-w, 0.0, 1.0)
    h = np.where(w >= 0, side + (front - side) * wf, side + (back - side) * wb)
    m = _smooth_step(y - h, 0.05)
    if style == "bald":
        m = m * _smooth_step(0.45 - y, 0.05) * _smooth_step(0.35 - w, 0.1)
    return m.astype(np.float32)


_HAIR_TEX_W, _HAIR_TEX_H = 512, 96
_HAIR_TEX: dict[tuple[int, bytes, bool], np.ndarray] = {}


def _hair_texture(ident: Identity, curly: bool) -> np.ndarray:
    """Brightness pattern of the hair (float32 (H, W)) over (angle around the head, height); cached."""
    key = (ident.index, ident.genes.tobytes(), curly)
    tex = _HAIR_TEX.get(key)
    if tex is None:
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
        tex = (0.72 + 0.45 * (tex - tex.min()) / (np.ptp(tex) + 1e-6)).astype(np.float32)
        if len(_HAIR_TEX) > 256:
            _HAIR_TEX.clear()
        _HAIR_TEX[key] = tex
    return tex


def _hair_albedo(ident: Identity, style: str, p: Field) -> np.ndarray:
    """Hair colour (..., 3) with a strand/curl texture at head-frame points p (3, ...)."""
    x, y, z = p
    # position around the vertical axis in [-2, 2] (front half [-1, 1]) without an arctan
    s = x / np.sqrt(x * x + z * z + np.float32(1e-4))
    around = np.where(z >= 0, s, np.sign(s) * 2.0 - s)
    mu = ((around + 2.0) * np.float32(_HAIR_TEX_W / 4.0)).astype(np.float32)
    mv = ((1.6 - y) * np.float32(_HAIR_TEX_H / 3.5)).astype(np.float32)
    g = cv2.remap(_hair_texture(ident, style == "curly"), mu, mv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    col = g[..., None] * ident.hair.astype(np.float32)
    if style == "buzz":
        col = 0.55 * col + 0.45 * ident.skin.astype(np.float32)
    return col


def _shade(
    albedo: np.ndarray, normal: Field, light: np.ndarray, nuis: Nuisance, spec: float, wrap: float
) -> np.ndarray:
    """Wrapped Lambertian + Blinn-Phong shading: albedo (..., 3), normal (3, ...) -> colour (..., 3)."""
    ndl = light[0] * normal[0] + light[1] * normal[1] + light[2] * normal[2]
    diffuse = np.clip((ndl + wrap) / (1.0 + wrap), 0.0, 1.0)
    lc = np.asarray(nuis.light_colour, np.float32) * np.float32(nuis.light_intensity)
    out = albedo * ((nuis.ambient / nuis.light_intensity) + diffuse)[..., None] * lc
    if spec > 0:
        half = light + np.array([0.0, 0.0, 1.0], np.float32)
        half /= np.linalg.norm(half)
        ndh = np.clip(half[0] * normal[0] + half[1] * normal[1] + half[2] * normal[2], 0.0, 1.0)
        ndh2 = ndh * ndh
        ndh4 = ndh2 * ndh2
        ndh16 = ndh4 * ndh4
        ndh16 *= ndh16
        out += (ndh16 * ndh4 * np.float32(spec))[..., None] * lc
    return out


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


def _composite(img: np.ndarray, win: tuple[int, int, int, int], colour: np.ndarray, alpha: np.ndarray) -> None:
    """Blend colour (h, w, 3) with alpha (h, w) into img's window."""
    y0, y1, x0, x1 = win
    view = img[y0:y1, x0:x1]
    view += alpha[..., None] * (colour - view)


def _flat(colour: np.ndarray) -> Callable[[Field], np.ndarray]:
    """An albedo function of one colour."""

    def albedo(p: Field) -> np.ndarray:
        return np.broadcast_to(colour, (*p[0].shape, 3))

    return albedo


def _layer(
    img: np.ndarray,
    cam: Camera,
    e: Ellipsoid,
    light: np.ndarray,
    nuis: Nuisance,
    albedo_fn: Callable[[Field], np.ndarray],
    region: Callable[[Field], np.ndarray] | None = None,
    spec: float = 0.05,
    back: bool = False,
    depth: np.ndarray | None = None,
    hit: Hit | None = None,
) -> Hit | None:
    """Composite one ellipsoid (front or inner back surface), optionally cut by a soft region and depth-tested."""
    if hit is None:
        hit = cam.cast(e)
    if hit is None:
        return None
    t = hit.t_back if back else hit.t_front
    q = hit.local(t)
    p = frame_point(e, q)
    alpha = hit.alpha
    if region is not None:
        alpha = alpha * region(p)
    if depth is not None:
        y0, y1, x0, x1 = hit.window
        alpha = alpha * (t >= depth[y0:y1, x0:x1] - 0.01)
    if not alpha.any():
        return hit
    normal = surface_normal_cam(e, q)
    if back:
        normal = (-normal[0], -normal[1], -normal[2])
    _composite(img, hit.window, _shade(albedo_fn(p), normal, light, nuis, spec, 0.2), alpha)
    return hit


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


def render_face(ident: Identity, nuis: Nuisance, seed: int) -> Rendered:
    """Render one aligned 112x112 face (before JPEG)."""
    model = _cached_head(ident)
    rot = rotation_matrix(nuis.yaw, nuis.pitch, nuis.roll)
    body_rot = rotation_matrix(0.3 * nuis.yaw, 0.0, 0.3 * nuis.roll)

    cam, landmarks = _aligned_camera(model, rot, nuis)

    light = np.asarray(nuis.light_dir, np.float32)
    light /= np.linalg.norm(light)
    occ_rng = np.random.default_rng([seed, 3, nuis.occluder_seed])
    img = _background(np.random.default_rng([seed, 4, nuis.background_seed]))

    style = ident.hair_style
    cr = np.asarray(ident.cranium_r)
    vol = ident.hair_volume * (2.2 if style == "curly" else 0.35 if style in ("buzz", "bald") else 1.0)
    shell = make_ellipsoid(
        (0.0, ident.cranium_c[1] + 0.5 * vol, ident.cranium_c[2] - 0.3 * vol), tuple(cr * (1 + vol)), rot
    )

    def hair_albedo(p: Field) -> np.ndarray:
        return _hair_albedo(ident, style, p)

    def shell_region(p: Field) -> np.ndarray:
        return hair_region(ident, style, p, float(shell.radii[2]))

    # back layers: long-hair curtain, inside of the hair shell, shoulders and neck
    if style == "long":
        curtain = make_ellipsoid((0.0, -0.55, -0.4), (cr[0] + vol + 0.08, 1.35, 0.72), rot)
        _layer(img, cam, curtain, light, nuis, hair_albedo, lambda p: _smooth_step(p[1] - ident.hair_length, 0.08), 0.1)
    shell_hit = _layer(img, cam, shell, light, nuis, lambda p: 0.6 * hair_albedo(p), shell_region, 0.0, back=True)
    for c, r, col in (
        ((0.0, -2.75, -0.35), (2.1, 1.2, 0.95), ident.clothing),
        ((0.0, -1.45, -0.25), (0.5, 0.8, 0.45), ident.skin * 0.9),
    ):
        colour = np.asarray(col, np.float32)
        _layer(
            img,
            cam,
            make_ellipsoid(c, r, body_rot),
            light,
            nuis,
            _flat(colour),
        )

    # head: union of ellipsoids, nearest hit wins; the smooth group blends normals across seams
    solids = [(name, make_ellipsoid(c, r, rot, srot)) for name, c, r, srot in model.solids]
    if style == "bun":
        solids.append(("bun", make_ellipsoid((0.0, 0.75, -0.75), (0.38, 0.33, 0.33), rot)))
    depth = np.full((SIZE, SIZE), -np.inf, np.float32)
    winner = np.full((SIZE, SIZE), -1, np.int8)
    cover = np.zeros((SIZE, SIZE), np.float32)
    hits: list[Hit | None] = []
    for k, (_, e) in enumerate(solids):
        hit = cam.cast(e)
        hits.append(hit)
        if hit is None:
            continue
        y0, y1, x0, x1 = hit.window
        t = np.where(hit.alpha > 0, hit.t_front, -np.inf)
        d = depth[y0:y1, x0:x1]
        better = t > d
        d[better] = t[better]
        winner[y0:y1, x0:x1][better] = k
        np.maximum(cover[y0:y1, x0:x1], hit.alpha, out=cover[y0:y1, x0:x1])

    mask_colour = None
    if nuis.occluder == "mask":
        mask_colour = np.array(
            [(0.62, 0.78, 0.9), (0.92, 0.92, 0.92), (0.12, 0.12, 0.14), (0.3, 0.5, 0.8)][int(occ_rng.integers(0, 4))],
            np.float32,
        )
    tex = face_texture(
        ident, seed, nuis.smile, nuis.mouth_open, nuis.eyes_closed, nuis.brows_raised, nuis.gaze, mask_colour
    )
    skin = ident.skin.astype(np.float32)
    albedo = np.zeros((SIZE, SIZE, 3), np.float32)
    normal = np.zeros((3, SIZE, SIZE), np.float32)
    smooth_normal = np.zeros((3, SIZE, SIZE), np.float32)
    spec = np.full((SIZE, SIZE), 0.07, np.float32)
    for k, (name, e) in enumerate(solids):
        hit = hits[k]
        if hit is None:
            continue
        y0, y1, x0, x1 = hit.window
        mine = winner[y0:y1, x0:x1] == k
        softness = _SMOOTH.get(name)
        if not mine.any() and softness is None:
            continue
        q = hit.local(hit.t_front)
        n = surface_normal_cam(e, q)
        if softness is not None:
            # smooth union: surfaces within `softness` of the front one share the normal (quadratic falloff)
            weight = np.clip(1.0 + (hit.t_front - depth[y0:y1, x0:x1]) * np.float32(1.0 / softness), 0.0, 1.0)
            weight *= weight
            weight *= hit.alpha > 0
            for axis in range(3):
                smooth_normal[axis, y0:y1, x0:x1] += n[axis] * weight
        else:
            for axis in range(3):
                np.copyto(normal[axis, y0:y1, x0:x1], n[axis], where=mine)
        if not mine.any():
            continue
        p = frame_point(e, q)
        if name == "ear":
            concha = np.exp(-(q[1] ** 2 + (q[2] + 0.1) ** 2) / 0.2)
            alb = (0.97 - 0.35 * concha)[..., None] * skin
        elif name == "bun":
            alb = _hair_albedo(ident, "short", p)
            spec[y0:y1, x0:x1][mine] = 0.1
        else:
            mu, mv = tex_coords(p[0], p[1])
            sampled = cv2.remap(tex, mu, mv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            front = np.clip((p[2] / ident.cranium_r[2] - 0.05) / 0.3, 0.0, 1.0)[..., None]
            alb = sampled * front + skin * (1.0 - front)
        np.copyto(albedo[y0:y1, x0:x1], alb, where=mine[..., None])
    is_smooth = np.array([False] + [name in _SMOOTH for name, _ in solids])
    is_face = np.array([False] + [name in ("cranium", "jaw", "chin") for name, _ in solids])
    # shade and composite only the head's bounding box: outside it cover, albedo and normals are 0,
    # so the full-frame version adds exactly 0 there (same bytes, less work)
    wins = [h.window for h in hits if h is not None]
    by0, by1 = (min(w[0] for w in wins), max(w[1] for w in wins)) if wins else (0, 0)
    bx0, bx1 = (min(w[2] for w in wins), max(w[3] for w in wins)) if wins else (0, 0)
    win_box = winner[by0:by1, bx0:bx1]
    cover_box = cover[by0:by1, bx0:bx1]
    albedo_box = albedo[by0:by1, bx0:bx1]
    normal_box = normal[:, by0:by1, bx0:bx1]
    smooth_box = smooth_normal[:, by0:by1, bx0:bx1]
    in_smooth = is_smooth[win_box + 1]
    norm = np.sqrt((smooth_box**2).sum(0))
    np.copyto(normal_box, smooth_box / np.maximum(norm, 1e-6), where=in_smooth[None])
    colour = _shade(albedo_box, (normal_box[0], normal_box[1], normal_box[2]), light, nuis, 0.07, 0.25)
    _composite(img, (by0, by1, bx0, bx1), colour, cover_box)
    # camera auto-exposure metered on the face: the skin keeps the identity's tone under any light
    face = (cover_box > 0.5) & is_face[win_box + 1]
    if face.any():
        shaded = float(colour[face].mean())
        gain = float(np.clip(0.92 * float(albedo_box[face].mean()) / max(shaded, 1e-3), 0.6, 2.5))
        img *= np.float32(gain)
        light_gain = np.float32(gain)
    else:
        light_gain = np.float32(1.0)

    # front hair, depth-tested against the head; then a hat
    nuis_exposed = replace(
        nuis, light_intensity=nuis.light_intensity * float(light_gain), ambient=nuis.ambient * float(light_gain)
    )
    if shell_hit is not None:
        _layer(img, cam, shell, light, nuis_exposed, hair_albedo, shell_region, 0.12, depth=depth, hit=shell_hit)
    if nuis.occluder == "hat":
        hat = make_ellipsoid(
            (0.0, ident.cranium_c[1] + 0.05, ident.cranium_c[2] - 0.05), tuple(cr * (1 + vol + 0.1)), rot
        )
        brim = float(occ_rng.uniform(0.45, 0.7))
        hat_colour = occ_rng.uniform(0.05, 0.8, 3).astype(np.float32)
        _layer(
            img,
            cam,
            hat,
            light,
            nuis_exposed,
            lambda p: np.broadcast_to(hat_colour, (*p[0].shape, 3)),
            lambda p: _smooth_step(p[1] - brim, 0.03),
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
    img = img * np.float32(nuis.exposure)
    if nuis.low_res < 0.999:
        small = max(12, round(SIZE * nuis.low_res))
        img = cv2.resize(
            cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (SIZE, SIZE), interpolation=cv2.INTER_LINEAR
        )
    sigma = max(0.45, nuis.blur_sigma)  # a little optical blur always: real crops are never pixel-sharp
    img = cv2.GaussianBlur(img, (0, 0), sigma)
    if nuis.noise_sigma > 0:
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(nuis.noise_sigma)
    if nuis.grayscale:
        grey = cv2.cvtColor(np.clip(img, 0, 1), cv2.COLOR_RGB2GRAY)
        img = np.repeat(grey[..., None], 3, axis=2)
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """RGB uint8 -> JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes -> RGB uint8 (H, W, 3)."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if arr is None:
        raise ValueError("not a decodable image")
    return np.ascontiguousarray(arr[:, :, ::-1])
