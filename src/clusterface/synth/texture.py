"""Face texture of SynthFaces: skin, eyes, brows, lips, marks and facial hair in head-frame (x, y).

The texture is an image over the head's front projection; the renderer samples it at each
visible surface point's head-frame (x, y), so everything painted here follows the 3D head
(foreshortening, hidden far side). The static part (skin, marks, facial hair, wrinkles) is
drawn once per identity; eyes, brows and mouth are painted per expression (quantised) as row
bands that are cached and pasted over it. The renderer maps head-frame (x, y) to texels with
``(x - TEX_X0) * TEX_PER_UNIT`` and ``(TEX_Y1 - y) * TEX_PER_UNIT``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import cv2
import numpy as np

from clusterface.synth.identity import Identity

# texture extent in head-frame units and resolution (texels per unit)
TEX_X0, TEX_X1, TEX_Y0, TEX_Y1 = -1.15, 1.15, -1.5, 1.2
TEX_PER_UNIT = 72.0
TEX_W = round((TEX_X1 - TEX_X0) * TEX_PER_UNIT)
TEX_H = round((TEX_Y1 - TEX_Y0) * TEX_PER_UNIT)
_SHIFT = 4
_ONE = 1 << _SHIFT
_AA = cv2.LINE_AA


def _pts(xy: np.ndarray, row0: int = 0) -> np.ndarray:
    """Head-frame points (N, 2) -> fixed-point texel polyline for cv2 (shift=_SHIFT), on a canvas
    whose first row is texture row ``row0`` (an exact integer shift, so a shape rasterises the same)."""
    p = np.rint((xy - _ORIGIN) * _TO_FIXED).astype(np.int32)
    if row0:
        p[:, 1] -= row0 * _ONE
    return p.reshape(-1, 1, 2)


# (x - TEX_X0) * TEX_PER_UNIT * _ONE and (TEX_Y1 - y) * TEX_PER_UNIT * _ONE in one expression (exact: _ONE is 2**k)
_ORIGIN = np.array([TEX_X0, TEX_Y1])
_TO_FIXED = np.array([TEX_PER_UNIT * _ONE, -TEX_PER_UNIT * _ONE])
_T9 = np.linspace(0, 1, 9)
_T11 = np.linspace(0.0, 1.0, 11)
_T15 = np.linspace(-1.0, 1.0, 15)


def _c(x: float, y: float, row0: int = 0) -> tuple[int, int]:
    return round((x - TEX_X0) * TEX_PER_UNIT * _ONE), round((TEX_Y1 - y) * TEX_PER_UNIT * _ONE) - row0 * _ONE


def _r(r: float) -> int:
    return max(1, round(r * TEX_PER_UNIT * _ONE))


def _col(rgb: np.ndarray) -> tuple[float, float, float]:
    return float(rgb[0]), float(rgb[1]), float(rgb[2])


def _blend_mask(tex: np.ndarray, colour: np.ndarray, mask: np.ndarray) -> None:
    """tex <- tex * (1 - mask) + colour * mask, mask float32 (H, W) in [0, 1]."""
    m = mask[..., None]
    tex *= 1.0 - m
    tex += m * colour.astype(np.float32)


def _soft_mask(draw: list[np.ndarray], blur: float) -> np.ndarray:
    mask: np.ndarray = np.zeros((TEX_H, TEX_W), np.float32)
    cv2.fillPoly(mask, draw, 1.0, _AA, _SHIFT)
    if blur > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), blur * TEX_PER_UNIT)
    return mask


def _low_freq_noise(rng: np.random.Generator, cells: int, shape: tuple[int, int]) -> np.ndarray:
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


_STATIC_CACHE: dict[tuple[int, int, bytes], np.ndarray] = {}


def static_texture(ident: Identity, seed: int) -> np.ndarray:
    """Identity-level skin texture (float32 (TEX_H, TEX_W, 3) RGB); cached per process."""
    key = (seed, ident.index, ident.genes.tobytes())
    cached = _STATIC_CACHE.get(key)
    if cached is not None:
        return cached
    if len(_STATIC_CACHE) > 256:
        _STATIC_CACHE.clear()
    tex = _draw_static(ident, np.random.default_rng([seed, 7, ident.index]))
    _STATIC_CACHE[key] = tex
    return tex


def _nose_to_mouth(
    ident: Identity,
    side: int,
    nw: float,
    ny: float,
    start: tuple[float, float],
    middle: tuple[float, float],
    end: tuple[float, float],
) -> np.ndarray:
    """A fold line from beside the nose wing (x offset from its width ``nw``, y from its height
    ``ny``) down to beside the mouth corner; offsets are (outwards, upwards) in head units."""
    return np.array(
        [
            [side * (nw + start[0]), ny + start[1]],
            [side * (nw + middle[0]), ny + middle[1]],
            [side * (ident.mouth_w + end[0]), ident.mouth_y + end[1]],
        ]
    )


def _draw_static(ident: Identity, rng: np.random.Generator) -> np.ndarray:
    skin = ident.skin
    tex = np.empty((TEX_H, TEX_W, 3), np.float32)
    tex[:] = skin
    # blotchy low-frequency skin variation
    tex *= (1.0 + 0.035 * _low_freq_noise(rng, 6, (TEX_H, TEX_W)))[..., None]
    # finer, identity-specific pigmentation (uneven tone, patches): a stable personal cue, as in real skin
    mottle = _low_freq_noise(rng, 12, (TEX_H, TEX_W))
    amp = np.float32(0.02 + 0.06 * ident.skin_detail)
    tex *= (1.0 + amp * mottle)[..., None] * np.array([1.0, 0.99, 0.98], np.float32) ** mottle[..., None]
    old = float(np.clip((ident.age - 40) / 40, 0, 1))
    ex, ey = ident.eye_x, ident.eye_y
    # eye sockets: darker and slightly cooler around the eyes, under-eye shadow with age
    sockets = [
        np.asarray(
            cv2.ellipse2Poly(
                (int((s * ex - TEX_X0) * TEX_PER_UNIT), int((TEX_Y1 - ey - 0.01) * TEX_PER_UNIT)),
                (
                    int((0.08 + 0.75 * ident.eye_w) * TEX_PER_UNIT),
                    int((0.07 + 0.06 * ident.socket_depth) * TEX_PER_UNIT),
                ),
                0,
                0,
                360,
                10,
            )
        ).reshape(-1, 1, 2)
        * _ONE
        for s in (-1, 1)
    ]
    mask = _soft_mask([p.astype(np.int32) for p in sockets], 0.05)
    tex *= (1.0 - (0.07 + 0.22 * ident.socket_depth + 0.1 * old) * mask)[..., None]
    # cheekbones: a lit ridge over the cheekbone and a hollow under it, both stronger for high cheekbones
    ridge: np.ndarray = np.zeros((TEX_H, TEX_W), np.float32)
    hollow: np.ndarray = np.zeros((TEX_H, TEX_W), np.float32)
    cy = ey - 0.22 - 0.1 * (1 - ident.cheekbone)
    for s in (-1, 1):
        cv2.ellipse(ridge, _c(s * (ex + 0.12), cy), (_r(0.2), _r(0.06)), s * 20, 0, 360, 1.0, -1, _AA, _SHIFT)
        cv2.ellipse(hollow, _c(s * (ex + 0.2), cy - 0.26), (_r(0.2), _r(0.07)), s * 35, 0, 360, 1.0, -1, _AA, _SHIFT)
    ridge = cv2.GaussianBlur(ridge, (0, 0), 0.05 * TEX_PER_UNIT)
    hollow = cv2.GaussianBlur(hollow, (0, 0), 0.06 * TEX_PER_UNIT)
    tex *= (1.0 + 0.07 * ident.cheekbone * ridge - (0.02 + 0.16 * ident.cheekbone) * hollow)[..., None]
    # cheeks: blush
    blush: np.ndarray = np.zeros((TEX_H, TEX_W), np.float32)
    for s in (-1, 1):
        cv2.circle(blush, _c(s * 0.5, -0.35), _r(0.18), 1.0, -1, _AA, _SHIFT)
    blush = cv2.GaussianBlur(blush, (0, 0), 0.1 * TEX_PER_UNIT)
    tex += (blush * (0.02 + 0.06 * ident.blush))[..., None] * np.array([1.0, -0.3, -0.3], np.float32)
    # nose base: alar shadows and nostrils
    ny = ident.nose_c[1] - ident.nose_r[1] * 0.78
    nw = ident.nose_r[0]
    shade: np.ndarray = np.zeros((TEX_H, TEX_W), np.float32)
    for s in (-1, 1):
        cv2.ellipse(shade, _c(s * nw * 0.85, ny + 0.03), (_r(0.04), _r(0.06)), 0, 0, 360, 0.5, -1, _AA, _SHIFT)
        cv2.ellipse(shade, _c(s * nw * 0.45, ny - 0.015), (_r(0.035), _r(0.018)), s * 15, 0, 360, 1.0, -1, _AA, _SHIFT)
    shade = cv2.GaussianBlur(shade, (0, 0), 0.008 * TEX_PER_UNIT)
    tex *= (1.0 - 0.55 * shade)[..., None]
    # nasolabial folds at any age: a soft shadow from the nose wing to beside the mouth corner
    fold: np.ndarray = np.zeros((TEX_H, TEX_W), np.float32)
    for s in (-1, 1):
        pts = _nose_to_mouth(ident, s, nw, ny, (0.06, 0.04), (0.12, -0.1), (0.06, -0.02))
        cv2.polylines(fold, [_pts(pts)], False, 1.0, 3, _AA, _SHIFT)
    fold = cv2.GaussianBlur(fold, (0, 0), 0.02 * TEX_PER_UNIT)
    tex *= (1.0 - (0.04 + 0.22 * ident.nasolabial) * fold)[..., None]
    # age: forehead lines, nasolabial folds, crow's feet
    if old > 0:
        lines: np.ndarray = np.zeros((TEX_H, TEX_W), np.float32)
        for k in range(3):
            y = 0.5 + 0.08 * k
            xs = np.linspace(-0.45, 0.45, 9)
            pts = np.stack([xs, y + 0.02 * np.cos(xs * 3)], 1)
            cv2.polylines(lines, [_pts(pts)], False, 1.0, 1, _AA, _SHIFT)
        for s in (-1, 1):
            pts = _nose_to_mouth(ident, s, nw, ny, (0.05, 0.05), (0.14, -0.15), (0.05, -0.05))
            cv2.polylines(lines, [_pts(pts)], False, 1.0, 2, _AA, _SHIFT)
            for d in (-0.04, 0.0, 0.04):
                pts = np.array([[s * (ex + ident.eye_w + 0.03), ey + d], [s * (ex + ident.eye_w + 0.11), ey + 2 * d]])
                cv2.polylines(lines, [_pts(pts)], False, 1.0, 1, _AA, _SHIFT)
        lines = cv2.GaussianBlur(lines, (0, 0), 0.006 * TEX_PER_UNIT)
        tex *= (1.0 - 0.3 * old * lines)[..., None]
    # freckles and moles
    if ident.freckles > 0:
        n = int(40 + 140 * ident.freckles)
        fx = rng.normal(0, 0.32, n)
        fy = rng.normal(-0.2, 0.12, n)
        dots: np.ndarray = np.zeros((TEX_H, TEX_W), np.float32)
        for x, y in zip(fx, fy, strict=True):
            cv2.circle(dots, _c(x, y), _r(0.009), float(rng.uniform(0.3, 1.0)), -1, _AA, _SHIFT)
        tex *= (1.0 - 0.3 * dots)[..., None]
    for _ in range(ident.moles):
        x, y = rng.uniform(-0.65, 0.65), rng.uniform(-0.95, 0.6)
        r = rng.uniform(0.012, 0.022)
        cv2.circle(tex, _c(x, y), _r(r), _col(skin * 0.45), -1, _AA, _SHIFT)
    # facial hair
    if ident.facial_hair != "none":
        _draw_facial_hair(tex, ident, rng)
    return np.clip(tex, 0.0, 1.0)


def _draw_facial_hair(tex: np.ndarray, ident: Identity, rng: np.random.Generator) -> None:
    my, mw = ident.mouth_y, ident.mouth_w
    ny = ident.nose_c[1] - ident.nose_r[1] * 0.78
    polys: list[np.ndarray] = []
    kind = ident.facial_hair
    moustache = np.array(
        [
            [-mw - 0.03, my - 0.02],
            [-0.12, ny - 0.04],
            [0.12, ny - 0.04],
            [mw + 0.03, my - 0.02],
            [mw * 0.6, my + ident.lip_upper + 0.005],
            [-mw * 0.6, my + ident.lip_upper + 0.005],
        ]
    )
    if kind in ("moustache", "goatee", "beard", "stubble"):
        polys.append(moustache)
    if kind in ("goatee", "beard", "stubble"):
        polys.append(
            np.array(
                [
                    [-mw - 0.03, my + 0.01],
                    [-mw - 0.06, my - 0.25],
                    [-0.2, -1.45],
                    [0.2, -1.45],
                    [mw + 0.06, my - 0.25],
                    [mw + 0.03, my + 0.01],
                    [0, my - ident.lip_lower - 0.02],
                ]
            )
        )
    if kind in ("beard", "stubble"):
        for s in (-1, 1):
            polys.append(
                np.array(
                    [
                        [s * 0.93, 0.0],
                        [s * 0.95, -0.6],
                        [s * 0.6, -1.4],
                        [s * 0.15, -1.45],
                        [s * (mw + 0.04), my - 0.05],
                        [s * (mw + 0.1), ny - 0.05],
                        [s * 0.75, -0.1],
                    ]
                )
            )
    mask = _soft_mask([_pts(p) for p in polys], 0.025)
    # cut the lips out
    lips = np.zeros_like(mask)
    cv2.ellipse(lips, _c(0, my), (_r(mw * 0.95), _r(0.045)), 0, 0, 360, 1.0, -1, _AA, _SHIFT)
    mask *= 1.0 - lips
    grain = rng.random((TEX_H, TEX_W)).astype(np.float32)
    if kind == "stubble":
        mask *= (grain < 0.55).astype(np.float32) * 0.55 * ident.facial_hair_density
    else:
        mask *= (0.55 + 0.45 * grain) * ident.facial_hair_density
    _blend_mask(tex, ident.hair * 0.9, mask)


def _lid_curves(ident: Identity, side: int, gaze_closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower lid polylines (head frame) of one eye, from inner to outer corner."""
    cx, cy = side * ident.eye_x, ident.eye_y
    w, h = ident.eye_w, ident.eye_h
    t = _T11
    x = cx + side * w * (2 * t - 1)
    base = cy - 0.25 * ident.eye_tilt + ident.eye_tilt * t
    # eye_shape moves the upper lid's highest point between inner and outer side
    skew = 0.35 + 0.3 * ident.eye_shape
    bump = np.sin(np.pi * t ** (np.log(0.5) / np.log(skew))) ** 0.85
    if gaze_closed:
        upper = base - 0.2 * h * bump
        return np.stack([x, upper], 1), np.stack([x, upper], 1)
    upper = base + h * bump
    lower = base - 0.55 * h * np.sin(np.pi * t) ** 1.1
    return np.stack([x, upper], 1), np.stack([x, lower], 1)


_V = TypeVar("_V")
_FACE_CACHE: dict[tuple[object, ...], np.ndarray] = {}
_FACE_CACHE_SIZE = 96


def face_texture(
    ident: Identity,
    seed: int,
    smile: float,
    mouth_open: float,
    eyes_closed: bool,
    brows_raised: float,
    gaze: tuple[float, float],
    mask_colour: np.ndarray | None = None,
) -> np.ndarray:
    """The identity's texture with this image's expression painted on (float32 (H, W, 3); do not modify).

    Expression is quantised (smile and mouth in thirds, brows in halves, gaze in 3 steps) so
    that an identity's images share a few cached textures; painting one costs milliseconds.
    """
    q_smile, q_open, q_brows = round(smile * 3) / 3, round(mouth_open * 3) / 3, round(brows_raised * 2) / 2
    gx, gy = float(np.clip(gaze[0], -0.3, 0.3)), float(np.clip(gaze[1], -0.1, 0.1))
    q_gaze = (round(gx / 0.15) * 0.15, round(gy / 0.1) * 0.1)
    mask_key = None if mask_colour is None else tuple(np.round(mask_colour, 4).tolist())
    key = (seed, ident.index, ident.genes.tobytes(), q_smile, q_open, eyes_closed, q_brows, q_gaze, mask_key)
    tex = _FACE_CACHE.get(key)
    if tex is None:
        tex = _compose(ident, seed, q_smile, q_open, eyes_closed, q_brows, q_gaze)
        if mask_colour is not None:
            _paint_mask(tex, ident, mask_colour)
        _remember(_FACE_CACHE, _FACE_CACHE_SIZE, key, tex)
    return tex


def _remember(cache: dict[tuple[object, ...], _V], size: int, key: tuple[object, ...], value: _V) -> None:
    """Store ``value`` in a first-in first-out cache of at most ``size`` entries."""
    if len(cache) >= size:
        cache.pop(next(iter(cache)))  # oldest first
    cache[key] = value


def _compose(
    ident: Identity,
    seed: int,
    smile: float,
    mouth_open: float,
    eyes_closed: bool,
    brows_raised: float,
    gaze: tuple[float, float],
) -> np.ndarray:
    """The static texture with the expression's eye, brow and mouth bands pasted in."""
    static = static_texture(ident, seed)
    tex = static.copy()
    who = (seed, ident.index, ident.genes.tobytes())
    bands = sorted(
        [
            _band(
                static,
                ("eyes", *who, eyes_closed, gaze),
                lambda: _lids(ident, eyes_closed).window,
                lambda t, row0: _paint_eyes(t, ident, eyes_closed, gaze, row0),
            ),
            _band(
                static,
                ("brows", *who, brows_raised),
                lambda: _rows(np.vstack(_brow_polys(ident, brows_raised)), 4),
                lambda t, row0: _paint_brows(t, ident, brows_raised, row0),
            ),
            _band(
                static,
                ("mouth", *who, smile, mouth_open),
                lambda: _rows(_mouth_extent(ident, smile, mouth_open), 4),
                lambda t, row0: _draw_mouth(t, ident, smile, mouth_open, row0),
            ),
        ],
        key=lambda band: band[0],
    )
    if all(a[0] + len(a[1]) <= b[0] for a, b in itertools.pairwise(bands)):
        for r0, rows in bands:
            tex[r0 : r0 + len(rows)] = rows
    else:  # bands sharing rows (brows low over the lids' creases): paint all in order
        _paint_eyes(tex, ident, eyes_closed, gaze)
        _paint_brows(tex, ident, brows_raised)
        _draw_mouth(tex, ident, smile, mouth_open)
    return tex


_BANDS: dict[tuple[object, ...], tuple[int, np.ndarray]] = {}
_BANDS_SIZE = 256


def _band(
    static: np.ndarray,
    key: tuple[object, ...],
    window: Callable[[], tuple[int, int]],
    paint: Callable[[np.ndarray, int], None],
) -> tuple[int, np.ndarray]:
    """Rows of the static texture that ``paint`` changes, as (first row, rows); cached by ``key``.

    Eyes, brows and mouth usually change disjoint row bands and depend on different parts of
    the expression, so each is painted once per identity and expression part, and an image's
    texture is the static texture with the bands pasted in (the same values as painting all).
    ``paint(canvas, row0)`` paints on a copy of the rows ``window()`` (first row ``row0``) of
    the texture; if the paint reaches the window's edge, the whole texture is painted instead."""
    band = _BANDS.get(key)
    if band is None:
        for w0, w1 in (window(), (0, TEX_H)):
            canvas = static[w0:w1].copy()
            paint(canvas, w0)
            changed = np.flatnonzero((canvas != static[w0:w1]).any(axis=(1, 2)))
            if not changed.size or ((changed[0] > 0 or w0 == 0) and (changed[-1] < len(canvas) - 1 or w1 == TEX_H)):
                break
        r0, r1 = (int(changed[0]), int(changed[-1]) + 1) if changed.size else (0, 0)
        band = (w0 + r0, canvas[r0:r1].copy())
        _remember(_BANDS, _BANDS_SIZE, key, band)
    return band


def _rows(xy: np.ndarray, margin: int) -> tuple[int, int]:
    """Texture rows spanned by head-frame points ``xy`` (N, 2), widened by ``margin`` texels."""
    rows = (TEX_Y1 - xy[:, 1]) * TEX_PER_UNIT
    return max(int(rows.min()) - margin, 0), min(int(np.ceil(rows.max())) + margin + 1, TEX_H)


@dataclass(frozen=True)
class _Lids:
    """An identity's eyelids for one eye state, as fixed-point texel polylines at texture row 0."""

    openings: list[np.ndarray]  # per eye: upper lid, then lower lid backwards (the visible eyeball)
    upper: list[np.ndarray]
    crease: list[np.ndarray]
    lower: list[np.ndarray]
    lid_rows: tuple[int, int]  # fixed-point extremes of the lids' rows
    window: tuple[int, int]  # texture rows that painting the eyes can change


_LIDS: dict[tuple[object, ...], _Lids] = {}


def _lids(ident: Identity, eyes_closed: bool) -> _Lids:
    """The eyelid outlines of ``ident`` (cached: an identity's images share them across gazes)."""
    key = (ident.index, ident.genes.tobytes(), eyes_closed)
    lids = _LIDS.get(key)
    if lids is None:
        curves = [_lid_curves(ident, side, eyes_closed) for side in (-1, 1)]
        fixed = np.concatenate([_pts(np.vstack(c))[:, 0, 1] for c in curves])
        reach = max(0.035 + 0.025 * ident.eyelid, 1.5 * ident.eye_h)  # crease above, eyeball's full height
        outline = np.vstack([np.vstack(c) for c in curves])
        up = np.array([0.0, reach])
        lids = _Lids(
            openings=[_pts(np.vstack([up, low[::-1]])) for up, low in curves],
            upper=[_pts(up) for up, _ in curves],
            crease=[_pts((up + np.array([0.0, 0.035 + 0.025 * ident.eyelid]))[2:-1]) for up, _ in curves],
            lower=[_pts(low) for _, low in curves],
            lid_rows=(int(fixed.min()), int(fixed.max())),
            window=_rows(np.vstack([outline, outline + up, outline - up]), 6),
        )
        _remember(_LIDS, 256, key, lids)
    return lids


def _paint_eyes(tex: np.ndarray, ident: Identity, eyes_closed: bool, gaze: tuple[float, float], row0: int = 0) -> None:
    """Sclera, iris and pupil inside the lids (or closed lids), lash line, crease, lower lid."""
    lids = _lids(ident, eyes_closed)
    shift = np.array([0, row0 * _ONE], np.int32)
    if not eyes_closed:
        eye_mask: np.ndarray = np.zeros(tex.shape[:2], np.float32)
        eyes = tex.copy()
        sclera = _col(np.array([0.92, 0.88, 0.85], np.float32) * (0.85 + 0.15 * ident.skin.mean()))
        axes = (_r(ident.eye_w * 1.2), _r(ident.eye_h * 1.5))
        cy = ident.eye_y + gaze[1] * ident.eye_h + 0.1 * ident.eye_tilt
        for side, opening in zip((-1, 1), lids.openings, strict=True):
            cv2.fillPoly(eye_mask, [opening - shift], 1.0, _AA, _SHIFT)
            cx = side * ident.eye_x + gaze[0] * ident.eye_w * 0.45
            cv2.ellipse(eyes, _c(side * ident.eye_x, ident.eye_y, row0), axes, 0, 0, 360, sclera, -1, _AA, _SHIFT)
            centre = _c(cx, cy, row0)
            cv2.circle(eyes, centre, _r(ident.iris_r), _col(ident.iris * 0.6), -1, _AA, _SHIFT)
            cv2.circle(eyes, centre, _r(ident.iris_r * 0.82), _col(ident.iris), -1, _AA, _SHIFT)
            cv2.circle(eyes, centre, _r(ident.iris_r * 0.42), (0.03, 0.03, 0.03), -1, _AA, _SHIFT)
            cv2.circle(eyes, _c(cx + 0.012, cy + 0.014, row0), _r(0.009), (0.95, 0.95, 0.95), -1, _AA, _SHIFT)
        # the eye mask is zero outside the lids' rows: blend only that band (same result, less work)
        lo, hi = ((v - row0 * _ONE) / _ONE for v in lids.lid_rows)
        r0, r1 = max(int(lo) - 2, 0), min(int(np.ceil(hi)) + 3, len(tex))
        _blend_mask(tex[r0:r1], np.zeros(3, np.float32), eye_mask[r0:r1])
        tex[r0:r1] += eyes[r0:r1] * eye_mask[r0:r1, :, None]
    lash = 2 if ident.sex < 0.5 else 1
    dark, crease_col, lower_col = _col(ident.skin * 0.25), _col(ident.skin * 0.72), _col(ident.skin * 0.6)
    for upper, crease, lower in zip(lids.upper, lids.crease, lids.lower, strict=True):
        # upper-lid shadow, lash line, crease
        cv2.polylines(tex, [upper - shift], False, dark, lash + 1, _AA, _SHIFT)
        cv2.polylines(tex, [crease - shift], False, crease_col, 1, _AA, _SHIFT)
        if not eyes_closed:
            cv2.polylines(tex, [lower - shift], False, lower_col, 1, _AA, _SHIFT)


def _brow_polys(ident: Identity, brows_raised: float) -> list[np.ndarray]:
    """Outline of each eyebrow (head frame)."""
    polys = []
    for side in (-1, 1):
        inner = side * (ident.eye_x - ident.eye_w * 1.05)
        outer = side * (ident.eye_x + ident.eye_w * ident.brow_len)
        t = _T9
        x = inner + (outer - inner) * t
        y = (
            ident.eye_y
            + ident.brow_gap
            + 0.06 * brows_raised
            + ident.brow_angle * t
            + ident.brow_arch * np.sin(np.pi * t * 0.8)
        )
        th = ident.brow_thick * (1.0 - 0.6 * t**1.5)
        polys.append(np.vstack([np.stack([x, y + th * 0.55], 1), np.stack([x, y - th * 0.45], 1)[::-1]]))
    return polys


def _paint_brows(tex: np.ndarray, ident: Identity, brows_raised: float, row0: int = 0) -> None:
    for poly in _brow_polys(ident, brows_raised):
        cv2.fillPoly(tex, [_pts(poly, row0)], _col(0.2 * ident.skin + 0.8 * ident.brow), _AA, _SHIFT)


def _paint_mask(tex: np.ndarray, ident: Identity, mask_colour: np.ndarray) -> None:
    """A surgical mask over nose and mouth (an occluder painted on the skin)."""
    my = ident.nose_c[1]
    poly = np.array(
        [
            [-1.0, my + 0.02],
            [-0.2, my + 0.1],
            [0.2, my + 0.1],
            [1.0, my + 0.02],
            [0.95, -0.7],
            [0.5, -1.35],
            [0, -1.5],
            [-0.5, -1.35],
            [-0.95, -0.7],
        ]
    )
    cv2.fillPoly(tex, [_pts(poly)], _col(mask_colour), _AA, _SHIFT)
    for k in range(3):
        yy = my - 0.2 - 0.17 * k
        cv2.polylines(
            tex,
            [_pts(np.array([[-0.7, yy], [0.0, yy - 0.03], [0.7, yy]]))],
            False,
            _col(mask_colour * 0.8),
            1,
            _AA,
            _SHIFT,
        )


class _Mouth(NamedTuple):
    """The mouth's curves over ``x`` (head frame): lip line, outer and inner lip edges, and the opening."""

    x: np.ndarray
    mid: np.ndarray
    top: np.ndarray
    upper_inner: np.ndarray
    lower_inner: np.ndarray
    bottom: np.ndarray
    gap: float
    envelope: np.ndarray


def _mouth_curves(ident: Identity, smile: float, mouth_open: float) -> _Mouth:
    mw = ident.mouth_w * (1.0 + 0.18 * smile)
    my = ident.mouth_y
    lift = ident.mouth_curve + 0.05 * smile
    t = _T15
    mid = my + lift * t**2
    gap = 0.07 * mouth_open + 0.015 * smile * (mouth_open > 0)
    envelope = np.sqrt(np.clip(1 - t**2, 0, 1))
    bow = 1.0 - 0.25 * np.exp(-((t / 0.12) ** 2)) + 0.1 * np.exp(-(((np.abs(t) - 0.3) / 0.15) ** 2))
    return _Mouth(
        x=mw * t,
        mid=mid,
        top=mid + gap * 0.5 * envelope + ident.lip_upper * envelope**0.7 * bow,
        upper_inner=mid + gap * 0.5 * envelope,
        lower_inner=mid - gap * 0.5 * envelope,
        bottom=mid - gap * 0.5 * envelope - ident.lip_lower * envelope**0.8 * (1 - 0.3 * smile),
        gap=float(gap),
        envelope=envelope,
    )


def _mouth_extent(ident: Identity, smile: float, mouth_open: float) -> np.ndarray:
    m = _mouth_curves(ident, smile, mouth_open)
    return np.vstack([np.stack([m.x, m.top], 1), np.stack([m.x, m.bottom], 1)])


def _draw_mouth(tex: np.ndarray, ident: Identity, smile: float, mouth_open: float, row0: int = 0) -> None:
    x, mid, top, upper_inner, lower_inner, bottom, gap, envelope = _mouth_curves(ident, smile, mouth_open)
    if gap > 0.004:
        inner = np.vstack([np.stack([x, upper_inner], 1), np.stack([x, lower_inner], 1)[::-1]])
        cv2.fillPoly(tex, [_pts(inner, row0)], (0.12, 0.04, 0.04), _AA, _SHIFT)
        teeth = np.vstack(
            [np.stack([x * 0.8, upper_inner], 1), np.stack([x * 0.8, upper_inner - 0.45 * gap * envelope], 1)[::-1]]
        )
        cv2.fillPoly(tex, [_pts(teeth, row0)], (0.85, 0.82, 0.75), _AA, _SHIFT)
    lip = ident.lip
    upper_lip = np.vstack([np.stack([x, top], 1), np.stack([x, upper_inner], 1)[::-1]])
    cv2.fillPoly(tex, [_pts(upper_lip, row0)], _col(lip * 0.9), _AA, _SHIFT)
    lower_lip = np.vstack([np.stack([x, lower_inner], 1), np.stack([x, bottom], 1)[::-1]])
    cv2.fillPoly(tex, [_pts(lower_lip, row0)], _col(lip), _AA, _SHIFT)
    cv2.polylines(tex, [_pts(np.stack([x, mid], 1), row0)], False, _col(lip * 0.45), 1, _AA, _SHIFT)
    # lower-lip highlight
    highlight = np.stack([x[4:-4] * 0.8, (lower_inner + bottom)[4:-4] * 0.5], 1)
    cv2.polylines(tex, [_pts(highlight, row0)], False, _col(np.minimum(lip * 1.15, 1)), 1, _AA, _SHIFT)
