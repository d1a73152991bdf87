"""Shared tiny SynthFaces sets (generated once per session; small enough to keep the suite fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterface.config.schema import SynthConfig
from clusterface.synth import SynthPaths, generate_dataset


def tiny_config(root: Path, **kw: object) -> SynthConfig:
    """A few dozen images: enough for every file of the layout."""
    base: dict[str, object] = dict(
        root=root, identities=14, seed=3, images_min=2, images_median=3, images_max=6, test_fraction=0.35, workers=1
    )
    base.update(kw)
    return SynthConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthConfig, SynthPaths]:
    cfg = tiny_config(tmp_path_factory.mktemp("synth") / "tiny", label_noise=0.1)
    return cfg, generate_dataset(cfg, progress=False)
