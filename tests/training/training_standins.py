"""Small stand-ins for the training tests: a tiny backbone, a random uint8 dataset, tiny configs.

``StandInObjective`` has the interface the trainer uses (that of ``losses.JointObjective``:
forward, set_progress, update_memory, refresh_concentration, stats); the real
objective is used whenever ``clusterface.losses.build_objective`` exists.
"""

from __future__ import annotations

import socket
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from clusterface.config import Config, load_config
from clusterface.models import list_backbones, register_backbone

TINY_BACKBONE = "test_tiny_training"


class TinyNet(nn.Module):
    """Strided conv + pooling + linear; no batch statistics (so DDP equals one process exactly)."""

    def __init__(self, embedding_dim: int = 16, dropout: float = 0.0):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, kernel_size=4, stride=4)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(8 * 16, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(torch.flatten(self.pool(F.relu(self.conv(x))), 1)))


if TINY_BACKBONE not in list_backbones():
    register_backbone(TINY_BACKBONE)(TinyNet)


class RandomFaces(Dataset):
    """``n`` random uint8 (3,112,112) images with labels ``i % num_classes`` (fixed by ``seed``)."""

    def __init__(self, n: int = 64, num_classes: int = 4, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randint(0, 256, (n, 3, 112, 112), dtype=torch.uint8, generator=g)
        self.labels = (torch.arange(n) % num_classes).numpy()
        self.num_classes = num_classes

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])


class StandInObjective(nn.Module):
    """Same interface as the joint objective: cosine classifier W, a centre memory, per-class margins."""

    def __init__(self, num_classes: int, dim: int, scale: float = 16.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_classes, dim) * 0.1)
        self.register_buffer("centres", torch.zeros(num_classes, dim))
        self.register_buffer("sums", torch.zeros(num_classes, dim))
        self.register_buffer("counts", torch.zeros(num_classes))
        self.register_buffer("margins", torch.full((num_classes,), 0.2))
        self.scale, self.progress = scale, 0.0

    def forward(self, embeddings, labels, momentum_embeddings=None):
        cos = F.normalize(embeddings) @ F.normalize(self.weight).t()
        cos = cos - F.one_hot(labels, cos.shape[1]) * self.margins[labels, None]
        cls = F.cross_entropy(self.scale * cos, labels)
        align = (1 - (F.normalize(self.weight[labels]) * self.centres[labels]).sum(1)).mean()
        loss = cls + (0.5 * align if self.progress >= 0.5 else 0.0 * align)
        return {"loss": loss, "cls": cls.detach(), "scc": torch.zeros(()), "align": align.detach()}

    def set_progress(self, epoch: float) -> None:
        self.progress = epoch

    @torch.no_grad()
    def update_memory(self, features, labels) -> None:
        z = F.normalize(features.float())
        self.sums.index_add_(0, labels, z)
        self.counts.index_add_(0, labels, torch.ones_like(labels, dtype=torch.float32))
        seen = self.counts > 0
        self.centres[seen] = F.normalize(0.9 * self.centres[seen] + 0.1 * F.normalize(self.sums[seen]))

    @torch.no_grad()
    def refresh_concentration(self) -> None:
        r = self.sums.norm(dim=1) / self.counts.clamp(min=1)
        self.margins.copy_(0.2 + 0.05 * (1 - r))
        self.sums.zero_()
        self.counts.zero_()

    def stats(self) -> dict[str, float]:
        return {
            "margin_mean": float(self.margins.mean()),
            "margin_min": float(self.margins.min()),
            "margin_max": float(self.margins.max()),
        }


def has_real_objective() -> bool:
    import clusterface.losses as losses

    return hasattr(losses, "build_objective")


def make_objective(cfg: Config, num_classes: int) -> nn.Module:
    """The real joint objective when it is available, else the stand-in."""
    if has_real_objective():
        from clusterface.losses import build_objective

        return build_objective(cfg, num_classes)
    return StandInObjective(num_classes, cfg.model.embedding_dim)


def install_standin_objective() -> None:
    """For CLI runs in a subprocess: provide ``clusterface.losses.build_objective`` if it does not exist yet."""
    import clusterface.losses as losses

    if not has_real_objective():
        losses.build_objective = lambda cfg, n: StandInObjective(n, cfg.model.embedding_dim)  # type: ignore[attr-defined]


def tiny_config(out_dir: Path | None = None, *overrides: str) -> Config:
    """A config that trains TinyNet on RandomFaces in a few milliseconds per step."""
    base = [
        f"model.backbone={TINY_BACKBONE}",
        "model.embedding_dim=16",
        "model.channels_last=false",
        "schedule.batch_size=8",
        "schedule.epochs=2",
        "optim.lr=0.05",
        "schedule.warmup_epochs=0.5",
        "logging.every_steps=1",
        "eval.every_epochs=0",
        "runtime.device=cpu",
        "optim.grad_clip=5.0",
        "data.workers=0",
        "objective.use_momentum_encoder=false",
        "objective.warmup_epochs=0.5",
        "margin.scale=16",
    ]
    if out_dir is not None:
        base.append(f"runtime.out_dir={out_dir}")
    return load_config(None, base + list(overrides))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ddp_worker(
    rank: int,
    world_size: int,
    port: int,
    out_dir: str,
    overrides: list[str],
    resume: str | None = None,
    n: int = 64,
    num_classes: int = 4,
) -> None:
    """torch.multiprocessing.spawn target: one gloo rank training on RandomFaces(n, num_classes) (resumed from
    ``resume`` when given); rank 0 saves its losses to ``out_dir/losses.pt``."""
    import os

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    from clusterface.training import init_distributed, shutdown_distributed, train

    init_distributed("cpu", timeout_s=60)
    try:
        cfg = tiny_config(None, *overrides)
        faces = RandomFaces(n=n, num_classes=num_classes)
        result = train(cfg, faces, out_dir=out_dir, progress=False, resume=resume, objective_factory=make_objective)
        if rank == 0:
            torch.save({"losses": result.losses}, Path(out_dir) / "losses.pt")
    finally:
        shutdown_distributed()
