"""Tiny SynthFaces configurations shared by the synth tests (a plain module: ``conftest`` names collide
across test folders when several are collected together)."""

from __future__ import annotations

from pathlib import Path

from clusterface.config.schema import SynthConfig


def tiny_config(root: Path, **kw: object) -> SynthConfig:
    """A few dozen images: enough for every file of the layout."""
    base: dict[str, object] = dict(
        root=root, identities=14, seed=3, images_min=2, images_median=3, images_max=6, test_fraction=0.35, workers=1
    )
    base.update(kw)
    return SynthConfig(**base)  # type: ignore[arg-type]
