"""Class-sharded training (objective.sharding=classes) under gloo equals one replicated process; resumes at any
world size.

The data has 5 classes (not divisible by 2 or 3 ranks); global batch 12 (divisible by 1, 2, 3).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from training_standins import RandomFaces, ddp_worker, free_port, make_objective, tiny_config

from clusterface.checkpoint import CheckpointError
from clusterface.training import load_checkpoint, train

NUM_CLASSES, NUM_IMAGES = 5, 72  # 6 steps per epoch
BASE = [
    "objective.use_momentum_encoder=true",
    "objective.encoder_momentum=0.9",
    "schedule.epochs=2",
    "schedule.batch_size=12",
    "margin.kind=cluster_guided",
    "memory.update_every_steps=4",
]
SHARDED = [*BASE, "objective.sharding=classes"]
# As test_training_ddp: only float summation order differs; the memory's margins/temperatures
# standardise phi over 5 classes, which amplifies rounding: a looser bound for them.
LOSS_RTOL, PARAM_ATOL, MEMORY_ATOL = 1e-4, 1e-5, 1e-4


def data() -> RandomFaces:
    return RandomFaces(n=NUM_IMAGES, num_classes=NUM_CLASSES)


def run(world: int, out_dir: Path, overrides: list[str], resume: str | None = None) -> list[float]:
    """Train at ``world`` ranks (1 = this process, no process group); returns rank 0's losses."""
    if world == 1:
        cfg = tiny_config(None, *overrides)
        return train(
            cfg, data(), out_dir=out_dir, progress=False, resume=resume, objective_factory=make_objective
        ).losses
    args = (world, free_port(), str(out_dir), overrides, resume, NUM_IMAGES, NUM_CLASSES)
    mp.spawn(ddp_worker, args=args, nprocs=world, join=True)
    return torch.load(out_dir / "losses.pt", weights_only=True)["losses"]


def assert_same_checkpoints(a_path: Path, b_path: Path) -> None:
    a, b = load_checkpoint(a_path), load_checkpoint(b_path)
    for part in ("backbone", "objective", "momentum_encoder"):
        assert a[part].keys() - {"sampling_step"} == b[part].keys() - {"sampling_step"}
        for key, value in a[part].items():
            if key == "sampling_step":
                continue
            atol = MEMORY_ATOL if key.startswith("memory.") else PARAM_ATOL
            torch.testing.assert_close(
                b[part][key], value, atol=atol, rtol=0, msg=lambda m, k=f"{part}.{key}": f"{k}: {m}"
            )
    # the optimiser's per-row state of W (SGD momentum) is saved full as well; it is a sum of
    # gradients (not scaled by lr like the weights), so rounding shows at a relative 1e-3
    for index, entry in a["optimizer"]["state"].items():
        for name, value in entry.items():
            torch.testing.assert_close(b["optimizer"]["state"][index][name], value, atol=1e-4, rtol=1e-3)
    assert a["position"] == b["position"]


@pytest.fixture(scope="module")
def replicated(tmp_path_factory) -> tuple[list[float], Path]:
    """The reference: one process, replicated objective, uninterrupted."""
    out = tmp_path_factory.mktemp("replicated")
    losses = run(1, out, BASE)
    assert len(losses) == 12
    return losses, out / "checkpoints" / "last.pt"


@pytest.mark.slow
@pytest.mark.parametrize("world", [2, 3])
def test_sharded_ranks_match_one_replicated_process(tmp_path, replicated, world):
    ref_losses, ref_ckpt = replicated
    losses = run(world, tmp_path, SHARDED)
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(ref_losses), rtol=LOSS_RTOL, atol=0)
    assert_same_checkpoints(ref_ckpt, tmp_path / "checkpoints" / "last.pt")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("first", "second", "second_overrides"),
    [
        (2, 1, BASE),  # a sharded run's checkpoint continues in one replicated process
        (2, 3, SHARDED),
        (1, 2, SHARDED),
    ],
    ids=["2to1-replicated", "2to3", "1to2"],
)
def test_resume_at_another_world_size(tmp_path, replicated, first, second, second_overrides):
    ref_losses, ref_ckpt = replicated
    stop = 7  # mid-epoch, after a concentration refresh and the warm-up switch
    head = run(first, tmp_path, [*SHARDED, f"schedule.max_steps={stop}"])
    saved = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert saved["objective"]["classifier.weight"].shape[0] == NUM_CLASSES  # full tensors on disk
    tail = run(second, tmp_path, second_overrides, resume="auto")
    assert len(head) == stop and len(head) + len(tail) == len(ref_losses)
    torch.testing.assert_close(torch.tensor(head + tail), torch.tensor(ref_losses), rtol=LOSS_RTOL, atol=0)
    assert_same_checkpoints(ref_ckpt, tmp_path / "checkpoints" / "last.pt")


def test_checkpoint_of_the_replicated_layout_resumes_sharded(tmp_path, replicated):
    """A checkpoint in the layout written before class sharding (replicated keys, no sampling_step,
    optimiser state of the full W) resumes under objective.sharding=classes (world size 1)."""
    ref_losses, ref_ckpt = replicated
    head = run(1, tmp_path, [*BASE, "schedule.max_steps=5"])
    old = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert "sampling_step" not in old["objective"]
    tail = run(1, tmp_path, SHARDED, resume="auto")
    torch.testing.assert_close(torch.tensor(head + tail), torch.tensor(ref_losses), rtol=LOSS_RTOL, atol=0)
    assert_same_checkpoints(ref_ckpt, tmp_path / "checkpoints" / "last.pt")


def test_sharded_resume_refuses_a_checkpoint_with_other_classes(tmp_path):
    run(1, tmp_path, [*BASE, "schedule.max_steps=2"])
    cfg = tiny_config(None, *SHARDED)
    other = RandomFaces(n=NUM_IMAGES, num_classes=NUM_CLASSES + 1)
    with pytest.raises(CheckpointError, match=r"classifier.weight: \(5, 16\) in the checkpoint, \(6, 16\) here"):
        train(cfg, other, out_dir=tmp_path, progress=False, resume="auto", objective_factory=make_objective)
