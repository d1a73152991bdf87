"""The trainer's contract with the objective that owns all per-class state (docs/method.md, Scale).

Two implementations: ``JointObjective`` (replicated: every rank holds all C classes) and
``ShardedJointObjective`` (rank r holds its contiguous class range of W, the centre memory,
the window sums and counts, phi, m, tau, the known mask and its sampling stream).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class ClassObjective(Protocol):
    """What the trainer calls. All per-class state lives behind it; ``sharded`` says how it is split.

    ``full_state_dict`` returns the per-class state as full (C, ...) tensors under the same keys
    whatever the sharding and world size (a collective when sharded: every rank calls it, rank 0
    receives the tensors, the others an empty dict), and ``load_full_state_dict`` takes such a
    dict on every rank and keeps the rank's rows. ``shard_rows`` / ``gather_rows`` do the same for
    per-row optimiser state of the objective's parameters.
    """

    sharded: bool

    def set_progress(self, epoch: float) -> None:
        """Current fractional epoch (the warm-up switch)."""

    def wants_momentum(self, step: int) -> bool:
        """Whether the momentum encoder runs at optimiser step ``step`` (the momentum schedule)."""

    def __call__(
        self, embeddings: torch.Tensor, labels: torch.Tensor, momentum_embeddings: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Global batch (B, d), (B,) -> {"loss" (with grad), "cls", "scc", "align"}."""

    def update_memory(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Add the step's (B, d) memory features of the global batch."""

    def refresh_concentration(self) -> None:
        """Recompute phi, margins, temperatures from the window (a collective when sharded)."""

    def stats(self) -> dict[str, float]:
        """Summary scalars over all classes (a collective when sharded)."""

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """World-size-independent state: full tensors on rank 0."""

    def load_full_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load a full state (replicated or sharded layout, any world size)."""

    def gather_rows(self, local: torch.Tensor) -> torch.Tensor | None:
        """A per-class tensor of this rank (C_r, ...) -> full (C, ...) on rank 0 (None elsewhere)."""

    def shard_rows(self, full: torch.Tensor) -> torch.Tensor:
        """A full per-class tensor (C, ...) -> this rank's rows."""

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        """The objective's parameters (W): per-class rows, sharded with the classes when ``sharded``."""


def is_sharded(objective: nn.Module) -> bool:
    """True for a class-sharded objective (its parameters are not averaged over ranks)."""
    return bool(getattr(objective, "sharded", False))
