"""Identity parameters of a SynthFaces person: everything fixed across that person's images.

An identity is drawn from a vector of *genes*, each uniform in [0, 1], by a per-identity
random generator keyed on ``(seed, identity)``. Physical parameters (head shape, skin tone,
eyes, hair, ...) are read off the genes by quantile maps. A look-alike sibling starts from
its family root's genes and moves part of the way towards its own draw, so that most
features stay close while a few (discrete genes crossing a threshold) change: hard negatives.

Head frame (units of half a head width): x to the person's left in the image (image right),
y up, z out of the face towards a frontal camera. The eyes sit near y = 0.1, the mouth near
y = -0.71, which reproduces the proportions of the ArcFace 5-point template.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GENE_NAMES: tuple[str, ...] = (
    # shape
    "head_w",
    "head_h",
    "head_d",
    "jaw_w",
    "jaw_h",
    "jaw_d",
    "chin_w",
    "chin_proj",
    "cheek",
    # skin
    "skin_tone",
    "skin_undertone",
    "skin_blush",
    # eyes
    "eye_sep",
    "eye_y",
    "eye_w",
    "eye_h",
    "eye_tilt",
    "eye_shape",
    "iris_colour",
    "iris_size",
    "eyelid",
    # brows
    "brow_thick",
    "brow_arch",
    "brow_height",
    "brow_len",
    "brow_angle",
    "brow_colour",
    # nose
    "nose_len",
    "nose_w",
    "nose_proj",
    "nose_bridge",
    # mouth
    "mouth_w",
    "mouth_y",
    "lip_upper",
    "lip_lower",
    "lip_colour",
    "mouth_curve",
    # ears
    "ear_size",
    "ear_protrude",
    # hair
    "hair_style",
    "hair_colour",
    "hair_shade",
    "hairline",
    "hair_part",
    "hair_volume",
    "hair_length",
    # other
    "sex",
    "age",
    "facial_hair",
    "facial_hair_density",
    "moles",
    "freckles",
    "glasses",
    "glasses_style",
    "clothing_hue",
    "clothing_value",
    # facial relief painted as shading (appended: earlier genes keep their positions)
    "cheekbone",
    "socket_depth",
    "nasolabial",
    "skin_detail",
)

FIRST_GENES = GENE_NAMES.index("cheekbone")  # genes of the first version; later ones are appended

HAIR_STYLES = ("bald", "buzz", "short", "fringe", "side_part", "long", "curly", "bun")
FACIAL_HAIR = ("none", "stubble", "moustache", "goatee", "beard")

# sRGB skin tones from very light to very dark (a Monk-scale-like ramp), interpolated by skin_tone.
_SKIN_RAMP = (
    np.array(
        [
            [246, 220, 200],
            [236, 200, 170],
            [224, 178, 140],
            [200, 150, 110],
            [170, 118, 82],
            [135, 90, 60],
            [100, 66, 44],
            [70, 46, 32],
        ],
        dtype=np.float32,
    )
    / 255.0
)
_HAIR_COLOURS = (
    np.array(
        [
            [18, 15, 14],
            [40, 28, 22],
            [70, 46, 30],
            [105, 72, 45],
            [150, 110, 70],
            [205, 170, 115],
            [130, 55, 28],
            [170, 165, 160],
        ],
        dtype=np.float32,
    )
    / 255.0
)
_IRIS_COLOURS = (
    np.array(
        [[45, 28, 18], [85, 52, 30], [110, 85, 45], [75, 105, 60], [70, 110, 160], [120, 130, 140]],
        dtype=np.float32,
    )
    / 255.0
)


NOSE_Y = -0.17  # height of the nose's centre in the head frame


def nose_tip(nose_y: float, nose_w: float, nose_len: float) -> tuple[float, float]:
    """Height and radius of the nose-tip ball (shared by the renderer and the anatomy rules)."""
    return nose_y - 0.72 * nose_len, 0.55 * nose_w + 0.02


def _ramp(palette: np.ndarray, t: float) -> np.ndarray:
    """Piecewise-linear interpolation along a palette, t in [0, 1]."""
    pos = float(np.clip(t, 0.0, 1.0)) * (len(palette) - 1)
    i = min(int(pos), len(palette) - 2)
    f = pos - i
    return (1 - f) * palette[i] + f * palette[i + 1]


def _lerp(lo: float, hi: float, g: float) -> float:
    return lo + (hi - lo) * g


def draw_genes(rng: np.random.Generator, count: int = len(GENE_NAMES)) -> np.ndarray:
    """``count`` genes, each uniform in [0, 1]."""
    return rng.random(count)


def sibling_genes(
    parent: np.ndarray, own: np.ndarray, rng: np.random.Generator, closeness: float, own_fraction: float
) -> np.ndarray:
    """A look-alike's genes: the parent's, moved ``1 - closeness`` of the way towards ``own``.

    A few genes (``own_fraction`` of them) are taken fully from ``own`` so that siblings differ
    in some clear features, as real siblings do.
    """
    child = parent + (1.0 - closeness) * (own - parent)
    fresh = rng.random(len(parent)) < own_fraction
    child[fresh] = own[fresh]
    return np.clip(child, 0.0, 1.0)


@dataclass(frozen=True)
class Identity:
    """Physical parameters of one synthetic person (see module docstring for the frame)."""

    index: int
    family: int
    difficulty: float
    genes: np.ndarray
    # head geometry (ellipsoids: centre, radii)
    cranium_c: tuple[float, float, float]
    cranium_r: tuple[float, float, float]
    jaw_c: tuple[float, float, float]
    jaw_r: tuple[float, float, float]
    chin_c: tuple[float, float, float]
    chin_r: tuple[float, float, float]
    nose_c: tuple[float, float, float]
    nose_r: tuple[float, float, float]
    nose_tilt: float
    bridge_r: tuple[float, float, float]
    ear_size: float
    ear_protrude: float
    # colours (RGB floats in [0, 1])
    skin: np.ndarray
    lip: np.ndarray
    hair: np.ndarray
    brow: np.ndarray
    iris: np.ndarray
    clothing: np.ndarray
    # eyes, brows, mouth (head-frame units)
    eye_x: float
    eye_y: float
    eye_w: float
    eye_h: float
    eye_tilt: float
    eye_shape: float
    iris_r: float
    eyelid: float
    brow_thick: float
    brow_arch: float
    brow_gap: float
    brow_len: float
    brow_angle: float
    mouth_w: float
    mouth_y: float
    lip_upper: float
    lip_lower: float
    mouth_curve: float
    # hair and the rest
    hair_style: str
    hairline: float
    hair_part: float
    hair_volume: float
    hair_length: float
    sex: float
    age: float
    facial_hair: str
    facial_hair_density: float
    moles: int
    freckles: float
    blush: float
    glasses: bool
    glasses_style: float
    cheekbone: float  # 0 flat .. 1 high, prominent cheekbones (hollow below them)
    socket_depth: float  # 0 shallow .. 1 deep-set eyes
    nasolabial: float  # depth of the nose-to-mouth folds (grows with age on top)
    skin_detail: float  # strength of the identity's uneven skin tone


def identity_from_genes(index: int, family: int, genes: np.ndarray, difficulty: float) -> Identity:
    """Map a gene vector to physical parameters."""
    g = dict(zip(GENE_NAMES, (float(x) for x in genes), strict=True))
    sex = g["sex"]  # 0 feminine .. 1 masculine: correlates jaw, brows, facial hair, hair length
    masc = 1.0 if sex > 0.5 else 0.0
    age = _lerp(18, 80, g["age"] ** 1.3)
    old = float(np.clip((age - 40) / 40, 0, 1))

    head_w = _lerp(0.78, 1.2, g["head_w"])
    head_h = _lerp(0.96, 1.44, g["head_h"])
    head_d = _lerp(1.04, 1.16, g["head_d"])
    jaw_w = _lerp(0.47, 1.07, 0.7 * g["jaw_w"] + 0.3 * masc)
    jaw_h = _lerp(0.52, 1.0, g["jaw_h"])
    jaw_d = _lerp(0.84, 0.98, g["jaw_d"])
    chin_w = _lerp(0.1, 0.45, 0.7 * g["chin_w"] + 0.3 * masc)
    chin_proj = _lerp(-0.12, 0.12, g["chin_proj"])
    cheek = g["cheek"]
    # features: ranges as wide as real faces allow, with the anatomy kept in order (brows above
    # the upper lid, the upper lip below the nose tip) so that extreme draws stay plausible
    eye_y = _lerp(0.0, 0.2, g["eye_y"])
    eye_h = _lerp(0.04, 0.11, g["eye_h"]) * (1 - 0.15 * old)
    brow_thick = _lerp(0.015, 0.1, 0.6 * g["brow_thick"] + 0.4 * masc)
    nose_w = _lerp(0.075, 0.23, g["nose_w"])
    nose_len = _lerp(0.15, 0.4, g["nose_len"])
    tip_y, tip_r = nose_tip(NOSE_Y, nose_w, nose_len)
    nose_bottom = tip_y - tip_r
    lip_upper = _lerp(0.02, 0.09, g["lip_upper"]) * (1 - 0.25 * masc)
    mouth_y = min(_lerp(-0.9, -0.58, g["mouth_y"]), nose_bottom - lip_upper - 0.07)

    tone = g["skin_tone"]
    skin = _ramp(_SKIN_RAMP, tone)
    under = _lerp(-1, 1, g["skin_undertone"])  # red (+) vs yellow (-) undertone
    skin = np.clip(skin * np.array([1 + 0.04 * under, 1.0 - 0.015 * abs(under), 1 - 0.06 * under]), 0, 1)
    skin = skin * (1 - 0.06 * old)
    lip = np.clip(skin * np.array([0.92, 0.62, 0.62]) * _lerp(0.8, 1.0, g["lip_colour"]) + [0.05, 0, 0.02], 0, 1)

    # hair colour: darker skins mostly dark hair; greying with age
    hc = g["hair_colour"]
    if tone > 0.45:
        hair = _ramp(_HAIR_COLOURS[:3], hc)
    elif hc < 0.08:
        hair = _HAIR_COLOURS[6].copy()  # red/auburn
    else:
        hair = _ramp(_HAIR_COLOURS[:6], (hc - 0.08) / 0.92)
    hair = hair * _lerp(0.85, 1.15, g["hair_shade"])
    grey = float(np.clip((age - 45) / 35, 0, 1)) ** 1.5
    hair = np.clip((1 - grey) * hair + grey * _HAIR_COLOURS[7], 0, 1)
    brow = np.clip(hair * 0.75 + 0.02 * _lerp(-1, 1, g["brow_colour"]), 0, 1)
    if tone > 0.35:
        iris = _ramp(_IRIS_COLOURS[:3], g["iris_colour"])
    else:
        iris = _IRIS_COLOURS[min(int(g["iris_colour"] * 6), 5)]

    style_g = g["hair_style"]
    if masc:
        style = ("bald", "buzz", "short", "short", "side_part", "fringe", "curly", "long")[min(int(style_g * 8), 7)]
        if old > 0.5 and style_g < 0.4:
            style = "bald"
    else:
        style = ("short", "fringe", "side_part", "long", "long", "long", "curly", "bun")[min(int(style_g * 8), 7)]
    fh = "none"
    if masc:
        fh = FACIAL_HAIR[min(int(g["facial_hair"] * 8), 4)] if g["facial_hair"] > 0.35 else "none"
        fh = FACIAL_HAIR[min(int((g["facial_hair"] - 0.35) / 0.65 * 5), 4)] if fh != "none" else "none"

    cloth_hue = g["clothing_hue"] * 180
    hsv = np.array([[[cloth_hue, _lerp(40, 200, g["clothing_value"]), _lerp(40, 230, g["clothing_hue"])]]], np.uint8)
    import cv2  # local: keeps module import cheap

    clothing = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0

    return Identity(
        index=index,
        family=family,
        difficulty=difficulty,
        genes=genes,
        cranium_c=(0.0, 0.12, -0.05),
        cranium_r=(head_w, head_h, head_d),
        jaw_c=(0.0, -0.5, 0.02 + 0.06 * cheek),
        jaw_r=(jaw_w, jaw_h, jaw_d),
        chin_c=(0.0, -0.5 - 0.88 * jaw_h, 0.42 + chin_proj),
        chin_r=(chin_w, 0.2, 0.36),
        nose_c=(0.0, NOSE_Y, 0.98),
        nose_r=(nose_w, nose_len, _lerp(0.08, 0.32, g["nose_proj"])),
        nose_tilt=_lerp(0.15, 0.45, g["nose_bridge"]),
        bridge_r=(0.075, 0.30, 0.155 + 0.03 * g["nose_bridge"]),
        ear_size=_lerp(0.85, 1.2, g["ear_size"]),
        ear_protrude=_lerp(0.1, 0.5, g["ear_protrude"]),
        skin=skin.astype(np.float32),
        lip=lip.astype(np.float32),
        hair=hair.astype(np.float32),
        brow=brow.astype(np.float32),
        iris=np.asarray(iris, np.float32),
        clothing=clothing,
        eye_x=_lerp(0.265, 0.455, g["eye_sep"]),
        eye_y=eye_y,
        eye_w=_lerp(0.12, 0.23, g["eye_w"]),
        eye_h=eye_h,
        eye_tilt=_lerp(-0.07, 0.1, g["eye_tilt"]),
        eye_shape=g["eye_shape"],
        iris_r=_lerp(0.05, 0.062, g["iris_size"]),
        eyelid=g["eyelid"],
        brow_thick=brow_thick,
        brow_arch=_lerp(-0.02, 0.18, g["brow_arch"]),
        brow_gap=max(_lerp(0.07, 0.28, g["brow_height"]), eye_h + 0.45 * brow_thick + 0.025),
        brow_len=_lerp(0.95, 1.35, g["brow_len"]),  # outer end, in eye half-widths
        brow_angle=_lerp(-0.09, 0.07, g["brow_angle"]),
        mouth_w=_lerp(0.21, 0.43, g["mouth_w"]),
        mouth_y=mouth_y,
        lip_upper=lip_upper,
        lip_lower=_lerp(0.03, 0.12, g["lip_lower"]) * (1 - 0.2 * masc),
        mouth_curve=_lerp(-0.035, 0.035, g["mouth_curve"]),
        hair_style=style,
        hairline=_lerp(0.62, 0.95, g["hairline"]) + 0.25 * old * masc,
        hair_part=_lerp(-1, 1, g["hair_part"]),
        hair_volume=_lerp(0.05, 0.14, g["hair_volume"]),
        hair_length=_lerp(-1.9, -0.9, g["hair_length"]),
        sex=sex,
        age=age,
        facial_hair=fh,
        facial_hair_density=_lerp(0.5, 1.0, g["facial_hair_density"]),
        moles=int(g["moles"] * 4.99) if g["moles"] > 0.5 else 0,
        freckles=max(0.0, g["freckles"] - 0.75) * 4 * (1.0 if tone < 0.4 else 0.3),
        blush=g["skin_blush"],
        glasses=g["glasses"] < 0.16,
        glasses_style=g["glasses_style"],
        cheekbone=g["cheekbone"],
        socket_depth=g["socket_depth"],
        nasolabial=g["nasolabial"],
        skin_detail=g["skin_detail"],
    )
