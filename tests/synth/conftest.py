"""Shared tiny SynthFaces sets (generated once per session; small enough to keep the suite fast)."""

from __future__ import annotations

import pytest
from synth_cases import tiny_config

from clusterface.config.schema import SynthConfig
from clusterface.synth import SynthPaths, generate_dataset


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthConfig, SynthPaths]:
    cfg = tiny_config(tmp_path_factory.mktemp("synth") / "tiny", label_noise=0.1)
    return cfg, generate_dataset(cfg, progress=False)
