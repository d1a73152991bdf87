"""The trainer's momentum encoder: mu from the EMA horizon, one restart xi <- theta at the end of warm-up."""

from __future__ import annotations

import json

import pytest
import torch
from training_standins import RandomFaces, make_objective, tiny_config

from clusterface.memory import MomentumEncoder
from clusterface.training import load_checkpoint, train
from clusterface.training.trainer import Trainer

# 64 images, batch 8: 8 steps per epoch; warm-up 0.5 epoch ends after step 4.
# Horizon 0.5 epoch = 4 steps: mu = 1 - 1/4.
MOMENTUM = ("objective.use_momentum_encoder=true", "objective.momentum_horizon_epochs=0.5")


def _run(cfg, data, out, resume=None):
    return train(cfg, data, out_dir=out, progress=False, resume=resume, objective_factory=make_objective)


def _encoder_vs_backbone(checkpoint) -> tuple[dict, dict]:
    state = load_checkpoint(checkpoint)
    ema = {k.removeprefix("encoder."): v for k, v in state["momentum_encoder"].items()}
    return ema, state["backbone"]


def test_mu_from_the_horizon_and_the_global_batch(tmp_path):
    data = RandomFaces(n=64, num_classes=4)
    trainer = Trainer(tiny_config(None, *MOMENTUM), data, progress=False, objective_factory=make_objective)
    assert trainer.steps_per_epoch == 8
    assert trainer.encoder_momentum == pytest.approx(1 - 1 / (0.5 * 8))
    assert trainer.momentum_encoder.momentum == trainer.encoder_momentum
    assert trainer.momentum_restart_step == 4
    # twice the global batch: half the steps per epoch, so a shorter EMA in steps (same horizon in epochs)
    trainer = Trainer(
        tiny_config(None, *MOMENTUM, "schedule.batch_size=16"), data, progress=False, objective_factory=make_objective
    )
    assert trainer.encoder_momentum == pytest.approx(1 - 1 / (0.5 * 4))
    # an explicit mu wins over the horizon
    given = tiny_config(None, *MOMENTUM, "objective.encoder_momentum=0.999")
    assert Trainer(given, data, progress=False, objective_factory=make_objective).encoder_momentum == 0.999
    # the run records the mu it used
    result = _run(tiny_config(None, *MOMENTUM, "schedule.max_steps=1"), data, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())["summary"]
    assert result.global_step == 1 and summary["encoder_momentum"] == pytest.approx(0.75)


def test_restart_once_at_the_end_of_warmup(tmp_path, monkeypatch):
    data = RandomFaces(n=64, num_classes=4)
    calls: list[int] = []
    original = MomentumEncoder.restart

    def counting(self, model):
        calls.append(1)
        original(self, model)

    monkeypatch.setattr(MomentumEncoder, "restart", counting)
    # stopped right after the last warm-up step: xi == theta, bit for bit
    _run(tiny_config(None, *MOMENTUM, "schedule.max_steps=4"), data, tmp_path / "boundary")
    ema, online = _encoder_vs_backbone(tmp_path / "boundary" / "checkpoints" / "last.pt")
    assert ema.keys() == online.keys()
    for key in online:
        assert torch.equal(ema[key], online[key]), key
    assert len(calls) == 1
    # one step before the boundary, xi is still an average (so the equality above is the restart's doing)
    _run(tiny_config(None, *MOMENTUM, "schedule.max_steps=3"), data, tmp_path / "before")
    ema, online = _encoder_vs_backbone(tmp_path / "before" / "checkpoints" / "last.pt")
    assert not all(torch.equal(ema[k], online[k]) for k in online)
    # a whole run (16 steps) restarts exactly once
    calls.clear()
    _run(tiny_config(None, *MOMENTUM), data, tmp_path / "full")
    assert len(calls) == 1
    # no warm-up: nothing to restart
    calls.clear()
    _run(tiny_config(None, *MOMENTUM, "objective.warmup_epochs=0"), data, tmp_path / "nowarm")
    assert calls == []


@pytest.mark.parametrize("stop_at", [3, 4, 6])  # before, exactly at and after the restart (after step 4)
def test_resume_across_the_restart_matches_an_uninterrupted_run(tmp_path, stop_at):
    data = RandomFaces(n=64, num_classes=4)
    full = _run(tiny_config(None, *MOMENTUM), data, tmp_path / "full")
    first = _run(tiny_config(None, *MOMENTUM, f"schedule.max_steps={stop_at}"), data, tmp_path / "split")
    second = _run(tiny_config(None, *MOMENTUM), data, tmp_path / "split", resume="auto")
    assert first.losses + second.losses == full.losses
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    for part in ("backbone", "objective", "momentum_encoder"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key} differs after resume from step {stop_at}"
