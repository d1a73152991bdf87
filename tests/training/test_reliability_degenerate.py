"""Degenerate training data (docs/reliability.md): one identity is refused; identities with a single image and
all-black / all-white batches train with finite losses and finite per-class state (phi, margins,
temperatures, SCC and align terms). Label gaps / labels past the class count in a .rec and a .bin
whose issame length does not match are in tests/data/test_reliability_containers.py."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn
from training_standins import RandomFaces, make_objective, tiny_config

from clusterface.config import Config
from clusterface.training import TrainingDataError, train


class _Constant(RandomFaces):
    def __init__(self, value: int, n: int = 32, num_classes: int = 4) -> None:
        super().__init__(n, num_classes)
        self.images[:] = value


def _train(data: RandomFaces, out: Path) -> tuple[object, nn.Module]:
    built: dict[str, nn.Module] = {}

    def factory(cfg: Config, n: int) -> nn.Module:
        built["objective"] = make_objective(cfg, n)
        return built["objective"]

    cfg = tiny_config(None, "schedule.epochs=3", "memory.update_every_steps=2")
    return train(cfg, data, out_dir=out, progress=False, objective_factory=factory), built["objective"]


def _all_finite(objective: nn.Module) -> list[str]:
    bad = [n for n, b in objective.named_buffers() if b.is_floating_point() and not bool(torch.isfinite(b).all())]
    stats = getattr(objective, "stats", None)
    if callable(stats):
        bad += [k for k, v in stats().items() if not math.isfinite(float(v))]
    return bad


def test_one_identity_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match=r"1 identity; training needs at least 2"):
        _train(RandomFaces(n=32, num_classes=1), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "data",
    [RandomFaces(n=32, num_classes=32), _Constant(0), _Constant(255)],
    ids=["every identity one image", "all black", "all white"],
)
def test_degenerate_batches_stay_finite(data: RandomFaces, tmp_path: Path) -> None:
    result, objective = _train(data, tmp_path / "run")
    assert result.status == "completed" and result.nonfinite_steps == 0  # type: ignore[attr-defined]
    assert all(math.isfinite(v) for v in result.losses)  # type: ignore[attr-defined]
    assert _all_finite(objective) == []
    stats = objective.stats()  # type: ignore[operator]
    # the memory saw every class: phi and the margins derived from it are defined
    assert stats["known_classes"] == data.num_classes
    assert 0 < stats["margin_min"] <= stats["margin_max"] < math.pi / 2
