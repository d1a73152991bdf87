"""From a plan record to pixels: identity (cached per process), nuisance, render, JPEG."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clusterface.config.schema import SynthConfig
from clusterface.synth.identity import Identity
from clusterface.synth.nuisance import Nuisance
from clusterface.synth.people import family_parents, image_nuisance, make_identity
from clusterface.synth.plan import ImageRecord
from clusterface.synth.render import encode_jpeg, image_landmarks, render_face

_PARENTS: dict[tuple[int, int, float], np.ndarray] = {}
_IDENTITIES: dict[tuple[int, str, int, float, int], Identity] = {}


def identity_for(cfg: SynthConfig, index: int) -> Identity:
    """Identity ``index`` of the population described by ``cfg`` (cached per process)."""
    pkey = (cfg.seed, cfg.identities, cfg.lookalike_fraction)
    parents = _PARENTS.get(pkey)
    if parents is None:
        parents = family_parents(cfg.seed, cfg.identities, cfg.lookalike_fraction)
        _PARENTS.clear()
        _PARENTS[pkey] = parents
    key = (cfg.seed, cfg.preset, cfg.identities, cfg.lookalike_fraction, index)
    ident = _IDENTITIES.get(key)
    if ident is None:
        if len(_IDENTITIES) > 4096:
            _IDENTITIES.clear()
        ident = make_identity(cfg.seed, index, int(parents[index]), cfg.preset)
        _IDENTITIES[key] = ident
    return ident


@dataclass(frozen=True)
class RenderedImage:
    """One dataset image: its JPEG bytes (None when only metadata was asked for) and how it was made."""

    jpeg: bytes | None
    identity: Identity
    nuisance: Nuisance
    landmarks: np.ndarray

    def metadata(self, rec: ImageRecord) -> dict[str, object]:
        n = self.nuisance
        row: dict[str, object] = {
            "split": rec.split,
            "path": rec.relpath,
            "folder_identity": rec.folder,
            "identity": rec.identity,
            "image": rec.image,
            "family": self.identity.family,
            "difficulty": round(self.identity.difficulty, 4),
            "yaw": round(n.yaw, 3),
            "pitch": round(n.pitch, 3),
            "roll": round(n.roll, 3),
            "occluder": n.occluder,
            "jpeg_quality": n.jpeg_quality,
        }
        for k, (x, y) in enumerate(self.landmarks.tolist()):
            row[f"lm{k}_x"] = round(x, 2)
            row[f"lm{k}_y"] = round(y, 2)
        return row


def render_record(cfg: SynthConfig, rec: ImageRecord, pixels: bool = True) -> RenderedImage:
    """Render image ``rec.image`` of identity ``rec.identity`` (pixels depend on nothing else)."""
    ident = identity_for(cfg, rec.identity)
    nuis = image_nuisance(cfg.seed, ident, rec.image, cfg.preset)
    if not pixels:
        return RenderedImage(None, ident, nuis, image_landmarks(ident, nuis))
    out = render_face(ident, nuis, cfg.seed)
    return RenderedImage(encode_jpeg(out.image, nuis.jpeg_quality), ident, nuis, out.landmarks)
