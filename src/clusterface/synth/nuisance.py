"""Per-image nuisance of SynthFaces: pose, expression, light, background, alignment, occlusion, degradation.

Every quantity is drawn from the image's own generator and scaled by the identity's
``difficulty`` (its own nuisance spread) and by the preset, so some identities are much
harder (more spread out) than others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Preset:
    """Nuisance ranges of a difficulty preset."""

    spread: float  # multiplies every per-image spread
    yaw_max: float
    pitch_max: float
    roll_max: float
    difficulty_sigma: float  # log-normal spread of per-identity difficulty
    occlusion: float  # base probability of an occluder
    degradation: float  # base strength of blur / noise / low resolution
    jpeg_min: int


PRESETS: dict[str, Preset] = {
    "easy": Preset(0.5, 30.0, 15.0, 10.0, 0.3, 0.04, 0.4, 75),
    "default": Preset(1.0, 45.0, 25.0, 15.0, 0.45, 0.1, 1.0, 40),
    "hard": Preset(1.35, 60.0, 30.0, 20.0, 0.5, 0.25, 1.5, 25),
}

OCCLUDERS = ("none", "sunglasses", "mask", "hand", "bar", "hat")


@dataclass(frozen=True)
class Nuisance:
    """What changes from one image of an identity to the next (angles in degrees)."""

    yaw: float
    pitch: float
    roll: float
    smile: float
    mouth_open: float
    eyes_closed: bool
    brows_raised: float
    gaze: tuple[float, float]
    light_dir: tuple[float, float, float]
    light_colour: tuple[float, float, float]
    light_intensity: float
    ambient: float
    jitter_scale: float
    jitter_shift: tuple[float, float]
    jitter_rot: float
    occluder: str
    occluder_seed: int
    background_seed: int
    blur_sigma: float
    noise_sigma: float
    low_res: float  # 1.0 = full resolution, 0.3 = rendered at 30% then upsampled
    grayscale: bool
    jpeg_quality: int
    exposure: float


def sample_difficulty(rng: np.random.Generator, preset: Preset) -> float:
    """Per-identity nuisance spread (log-normal around 1)."""
    return float(np.clip(np.exp(rng.normal(0.0, preset.difficulty_sigma)), 0.35, 2.6))


def _clip(v: float, lo: float, hi: float) -> float:
    return float(min(max(v, lo), hi))


def sample_nuisance(rng: np.random.Generator, difficulty: float, preset: Preset) -> Nuisance:
    """Draw one image's nuisance; the order of draws is fixed (determinism)."""
    s = preset.spread * difficulty
    # plain Python floats: the same IEEE doubles as numpy scalars, without their per-operation cost
    u = rng.random(24).tolist()
    n = rng.standard_normal(12).tolist()
    yaw = _clip(n[0] * 14.0 * s, -preset.yaw_max, preset.yaw_max)
    pitch = _clip(n[1] * 8.0 * s, -preset.pitch_max, preset.pitch_max)
    roll = _clip(n[2] * 6.0 * s, -preset.roll_max, preset.roll_max)
    smile = _clip(u[0] * 1.6 - 0.5, 0, 1) if u[1] < 0.25 + 0.25 * min(s, 1.5) else 0.0
    mouth_open = float(u[2]) if u[3] < 0.12 * s else 0.0
    eyes_closed = bool(u[4] < 0.04 * s)
    brows_raised = float(u[5]) if u[6] < 0.15 * s else 0.0
    gaze = (float(n[3] * 0.2 * s), float(n[4] * 0.12 * s))
    # light: azimuth/elevation around the camera direction, spread grows with difficulty
    az = np.deg2rad(n[5] * 24.0 * s)
    el = np.deg2rad(15.0 + n[6] * 15.0 * s)
    light_dir = (float(np.sin(az) * np.cos(el)), float(np.sin(el)), float(np.cos(az) * np.cos(el)))
    warmth = float(n[7] * 0.08 * s)
    light_colour = (1.0 + warmth, 1.0, 1.0 - warmth)
    light_intensity = _clip(0.75 + n[8] * 0.12 * s, 0.35, 1.1)
    ambient = _clip(0.35 + (u[7] - 0.5) * 0.2 * s, 0.12, 0.6)
    # landmark-detector noise: about a pixel and a degree or two
    jitter_scale = float(np.exp(n[9] * 0.02 * s))
    jitter_shift = (float(n[10] * 0.9 * s), float(n[11] * 0.9 * s))
    jitter_rot = float((u[8] - 0.5) * 4.0 * s)
    occluder = "none"
    if u[9] < preset.occlusion * s:
        occluder = OCCLUDERS[1 + min(int(u[10] * (len(OCCLUDERS) - 1)), len(OCCLUDERS) - 2)]
    occluder_seed = int(u[11] * 2**31)
    background_seed = int(u[12] * 2**31)
    deg = preset.degradation * s
    blur_sigma = float(u[13] * 1.1 * deg) if u[14] < 0.3 * min(deg, 2.0) else 0.0
    noise_sigma = float(u[15] * 0.035 * deg)
    low_res = float(1.0 - u[16] * 0.6 * min(deg, 1.2)) if u[17] < 0.2 * min(deg, 2.0) else 1.0
    grayscale = bool(u[18] < 0.03 * min(deg, 2.0))
    jpeg_quality = round(95 - u[19] * (95 - preset.jpeg_min) * min(deg, 1.0))
    exposure = float(np.exp((u[20] - 0.5) * 0.3 * s))
    return Nuisance(
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        smile=smile,
        mouth_open=mouth_open,
        eyes_closed=eyes_closed,
        brows_raised=brows_raised,
        gaze=gaze,
        light_dir=light_dir,
        light_colour=light_colour,
        light_intensity=light_intensity,
        ambient=ambient,
        jitter_scale=jitter_scale,
        jitter_shift=jitter_shift,
        jitter_rot=jitter_rot,
        occluder=occluder,
        occluder_seed=occluder_seed,
        background_seed=background_seed,
        blur_sigma=blur_sigma,
        noise_sigma=noise_sigma,
        low_res=low_res,
        grayscale=grayscale,
        jpeg_quality=jpeg_quality,
        exposure=exposure,
    )
