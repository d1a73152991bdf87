"""Resume mid-epoch gives the same loss sequence and weights as an uninterrupted run (CPU, exact)."""

from __future__ import annotations

import pytest
import torch
from training_standins import RandomFaces, make_objective, tiny_config

from clusterface.training import load_backbone, load_checkpoint, train


def _run(cfg, data, out, resume=None):
    return train(cfg, data, out_dir=out, progress=False, resume=resume, objective_factory=make_objective)


@pytest.mark.parametrize("stop_at", [3, 8])  # mid-epoch (8 steps/epoch) and at an epoch boundary
def test_resume_matches_uninterrupted_run(tmp_path, stop_at):
    data = RandomFaces(n=64, num_classes=4)
    extra = ("model.dropout=0.2", "optim.kind=sgd", "data.hflip=true", "memory.update_every_steps=3")
    cfg = tiny_config(None, *extra)
    full = _run(cfg, data, tmp_path / "full")
    assert full.status == "completed" and full.global_step == 16

    first = _run(tiny_config(None, *extra, f"schedule.max_steps={stop_at}"), data, tmp_path / "split")
    assert first.status == "max_steps" and first.global_step == stop_at
    second = _run(cfg, data, tmp_path / "split", resume="auto")
    assert second.global_step == 16

    # Exact on CPU: same data order, flips, dropout masks, optimiser and memory state.
    assert first.losses + second.losses == full.losses
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    for part in ("backbone", "objective"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key} differs after resume"


def test_checkpoint_rebuilds_backbone_alone(tmp_path):
    data = RandomFaces(n=32, num_classes=4)
    cfg = tiny_config(None, "schedule.epochs=1")
    result = _run(cfg, data, tmp_path / "run")
    model, loaded_cfg = load_backbone(result.last_checkpoint)
    assert loaded_cfg == cfg
    assert not model.training
    out = model(torch.zeros(2, 3, 112, 112))
    assert out.shape == (2, 16) and torch.isfinite(out).all()
    assert (tmp_path / "run" / "config.yaml").is_file()
    assert (tmp_path / "run" / "metrics.json").is_file()
    assert any((tmp_path / "run" / "tb").iterdir())


def test_resume_keeps_the_negative_sampling_stream(tmp_path):
    """With sampled negative centres, a resumed run draws the same columns as an uninterrupted one."""
    data = RandomFaces(n=64, num_classes=24)
    extra = ("objective.num_negatives=12",)  # batch 8: at most 8 positives, the rest drawn
    full = _run(tiny_config(None, *extra), data, tmp_path / "full")
    first = _run(tiny_config(None, *extra, "schedule.max_steps=5"), data, tmp_path / "split")
    second = _run(tiny_config(None, *extra), data, tmp_path / "split", resume="auto")
    assert first.losses + second.losses == full.losses
