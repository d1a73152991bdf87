"""Sampler, schedule, RNG capture: small exact checks."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from clusterface.training import ResumableDistributedBatchSampler, lr_factor, save_checkpoint
from clusterface.training.rng import capture_rng_state, restore_rng_state
from clusterface.training.step import prepare_images


def test_sampler_ranks_partition_the_global_batch_and_drop_the_rest():
    single = list(ResumableDistributedBatchSampler(50, 8, seed=3))
    ranks = [list(ResumableDistributedBatchSampler(50, 8, rank=r, world_size=2, seed=3)) for r in range(2)]
    assert len(single) == 6 and all(len(b) == 8 for b in single)
    assert all(len(r) == 6 and all(len(b) == 4 for b in r) for r in ranks)
    for step, batch in enumerate(single):
        assert ranks[0][step] + ranks[1][step] == batch
    assert len({i for b in single for i in b}) == 48


def test_sampler_resumes_mid_epoch_and_reshuffles_per_epoch():
    s = ResumableDistributedBatchSampler(40, 4, seed=0)
    s.set_epoch(1)
    full = list(s)
    s.set_epoch(1, start_step=7)
    assert list(s) == full[7:] and len(s) == 3
    s.set_epoch(2)
    assert list(s) != full
    with pytest.raises(ValueError):
        ResumableDistributedBatchSampler(40, 6, world_size=4)


def test_lr_schedule_warmup_then_cosine_and_poly():
    assert lr_factor(0, 100, 10, "cosine", 2, 0.0) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, "cosine", 2, 0.0) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10, "cosine", 2, 0.0) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, "cosine", 2, 0.0) == pytest.approx(0.5)
    assert lr_factor(100, 100, 10, "cosine", 2, 0.1) == pytest.approx(0.1)
    assert lr_factor(55, 100, 10, "poly", 2, 0.0) == pytest.approx(0.25)
    t = 30 / 90
    assert lr_factor(40, 100, 10, "cosine", 2, 0.0) == pytest.approx(0.5 * (1 + math.cos(math.pi * t)))


def test_rng_state_roundtrips_through_weights_only_checkpoint(tmp_path):
    random.seed(1)
    np.random.seed(2)  # noqa: NPY002
    torch.manual_seed(3)
    state = capture_rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(3))  # noqa: NPY002
    save_checkpoint({"config": {}, "backbone": {}, "rng": state}, tmp_path / "r.pt")
    loaded = torch.load(tmp_path / "r.pt", weights_only=True)["rng"]
    random.seed(9)
    np.random.seed(9)  # noqa: NPY002
    torch.manual_seed(9)
    restore_rng_state(loaded)
    got = (random.random(), np.random.rand(), torch.rand(3))  # noqa: NPY002
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


@pytest.mark.parametrize(("use_momentum", "every", "expected"), [(True, 1, 4), (True, 2, 2), (False, 2, 4)])
def test_memory_update_schedule_follows_the_objective(use_momentum, every, expected):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from training_standins import RandomFaces, tiny_config

    from clusterface.training import Trainer

    cfg = tiny_config(
        None, f"objective.use_momentum_encoder={str(use_momentum).lower()}", f"objective.momentum_every_steps={every}"
    )
    trainer = Trainer(cfg, RandomFaces(n=16), out_dir=None, progress=False)
    calls = []
    original = trainer.objective.update_memory
    trainer.objective.update_memory = lambda f, y: (calls.append(f.clone()), original(f, y))
    images = torch.randint(0, 256, (8, 3, 112, 112), dtype=torch.uint8)
    labels = torch.arange(8) % 4
    for step in range(4):
        trainer.step_fn(images, labels, step=step)
    assert len(calls) == expected
    if use_momentum:  # the memory gets the momentum encoder's features, not the online ones
        with torch.no_grad():
            online = trainer.model(prepare_images(images, None, torch.device("cpu"), channels_last=False))
        assert not torch.allclose(calls[-1], online)
