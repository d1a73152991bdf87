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


class _BreaksAfter(RandomFaces):
    """RandomFaces whose loading fails once ``limit`` images have been read (a crash mid-run); it
    keeps what ``watch`` (metrics.json) held at that moment."""

    def __init__(self, limit: int, watch, **kwargs):
        super().__init__(**kwargs)
        self.limit, self.read, self.watch, self.seen = limit, 0, watch, None

    def __getitem__(self, i: int):
        self.read += 1
        if self.read > self.limit:
            self.seen = self.watch.read_text() if self.watch.is_file() else None
            raise OSError("disk went away")
        return super().__getitem__(i)


def test_metrics_json_is_written_at_every_checkpoint_and_says_how_the_run_ended(tmp_path):
    import json

    data = _BreaksAfter(8 * 5, tmp_path / "run" / "metrics.json", n=64, num_classes=4)  # the 6th batch fails
    cfg = tiny_config(None, "checkpoint.every_steps=2")
    with pytest.raises(OSError, match="disk went away"):
        _run(cfg, data, tmp_path / "run")
    during = json.loads(data.seen)  # while the run went on: the history up to the checkpoint of step 4
    assert during["summary"] == {"status": "running", "global_step": 4}
    assert [h["step"] for h in during["history"]] == [1, 2, 3, 4]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["summary"]["status"] == "failed" and "disk went away" in metrics["summary"]["error"]
    assert [h["step"] for h in metrics["history"]] == [1, 2, 3, 4, 5]
    # a run that ends normally replaces the interim summary
    done = _run(tiny_config(None, "checkpoint.every_steps=2"), RandomFaces(n=64, num_classes=4), tmp_path / "ok")
    assert json.loads((tmp_path / "ok" / "metrics.json").read_text())["summary"]["status"] == done.status


class _LoaderDiesAt(RandomFaces):
    """The loader dies on read ``at`` as a worker killed by a signal surfaces (a RuntimeError); with
    ``group_signal`` the main process received the SIGTERM too (a signal sent to the process group)."""

    def __init__(self, at: int, group_signal: bool, **kwargs):
        super().__init__(**kwargs)
        self.at, self.group_signal, self.read = at, group_signal, 0

    def __getitem__(self, i: int):
        self.read += 1
        if self.read == self.at:
            if self.group_signal:
                import os
                import signal

                os.kill(os.getpid(), signal.SIGTERM)
            raise RuntimeError("DataLoader worker (pid 1) is killed by signal: Terminated. ")
        return super().__getitem__(i)


def test_signal_that_kills_the_loader_workers_is_a_clean_stop(tmp_path):
    cfg = tiny_config(None)
    full = _run(cfg, RandomFaces(n=64, num_classes=4), tmp_path / "full")
    stopped = _run(cfg, _LoaderDiesAt(8 * 3 + 1, True, n=64, num_classes=4), tmp_path / "split")
    assert stopped.status == "interrupted" and stopped.global_step == 3 and stopped.signal == 15
    assert stopped.last_checkpoint is not None and "00000003" in stopped.last_checkpoint.name
    resumed = _run(cfg, RandomFaces(n=64, num_classes=4), tmp_path / "split", resume="auto")
    assert stopped.losses + resumed.losses == full.losses
    # a loader error without a pending signal is still an error
    with pytest.raises(RuntimeError, match="killed by signal"):
        _run(cfg, _LoaderDiesAt(5, False, n=64, num_classes=4), tmp_path / "error")
