"""Non-finite loss: the step is skipped (weights untouched), counted, and too many in a row abort."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from training_standins import RandomFaces, make_objective, tiny_config

from clusterface.training import NonFiniteLossError, Trainer, train


class InjectNaN(nn.Module):
    """Wraps an objective; the loss of the calls numbered in ``bad`` (0-based) becomes NaN."""

    def __init__(self, inner: nn.Module, bad: set[int]):
        super().__init__()
        self.inner, self.bad, self.calls = inner, bad, 0

    def forward(self, embeddings, labels, momentum=None):
        parts = dict(self.inner(embeddings, labels, momentum))
        if self.calls in self.bad:
            parts["loss"] = parts["loss"] * float("nan")
        self.calls += 1
        return parts

    def set_progress(self, epoch):
        self.inner.set_progress(epoch)

    def update_memory(self, features, labels):
        self.inner.update_memory(features, labels)

    def refresh_concentration(self):
        self.inner.refresh_concentration()

    def stats(self):
        return self.inner.stats()


def _factory(bad):
    return lambda cfg, n: InjectNaN(make_objective(cfg, n), bad)


def test_nonfinite_step_leaves_weights_and_optimiser_untouched():
    cfg = tiny_config(None, "optim.kind=adamw")
    trainer = Trainer(cfg, RandomFaces(n=32), out_dir=None, progress=False, objective_factory=_factory({1}))
    images = torch.randint(0, 256, (8, 3, 112, 112), dtype=torch.uint8)
    labels = torch.arange(8) % 4
    assert trainer.step_fn(images, labels).applied
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    w_before = trainer.objective.state_dict()
    w_before = {k: v.clone() for k, v in w_before.items()}
    opt_steps = trainer.optimizer.state_dict()["state"][0]["step"].clone()
    out = trainer.step_fn(images, labels)
    assert not out.applied
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, before[k]), k
    for k, v in trainer.objective.state_dict().items():
        assert torch.equal(v, w_before[k]), k  # W and the memory: no update from a bad step
    assert torch.equal(trainer.optimizer.state_dict()["state"][0]["step"], opt_steps)
    assert trainer.step_fn(images, labels).applied


def test_isolated_nonfinite_steps_are_skipped_and_counted(tmp_path):
    cfg = tiny_config(None, "schedule.epochs=1", "runtime.max_consecutive_nonfinite=3")
    result = train(cfg, RandomFaces(n=64), out_dir=tmp_path, progress=False, objective_factory=_factory({2, 3, 6}))
    assert result.status == "completed" and result.global_step == 8
    assert result.nonfinite_steps == 3
    assert [i for i, v in enumerate(result.losses) if v != v] == [2, 3, 6]
    state = torch.load(result.last_checkpoint, weights_only=True)
    for part in ("backbone", "objective"):
        for key, value in state[part].items():
            if value.is_floating_point():
                assert torch.isfinite(value).all(), f"{part}.{key}"


def test_too_many_consecutive_nonfinite_steps_abort_naming_the_step(tmp_path):
    cfg = tiny_config(None, "schedule.epochs=1", "runtime.max_consecutive_nonfinite=3")
    with pytest.raises(NonFiniteLossError, match="at step 5"):
        train(cfg, RandomFaces(n=64), out_dir=tmp_path, progress=False, objective_factory=_factory({2, 3, 4}))
    assert not (tmp_path / "checkpoints" / "last.pt").exists()
    summary = json.loads((tmp_path / "metrics.json").read_text())["summary"]
    assert summary["status"] == "aborted" and "at step 5" in summary["error"]
