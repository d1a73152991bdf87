"""Batch sampler: equal-size batches on every rank, a deterministic permutation per epoch, resumable."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ResumableDistributedBatchSampler(Sampler[list[int]]):
    """Yields this rank's index lists for one epoch; global batches never straddle epochs.

    The epoch's order is ``randperm(n)`` from a generator seeded with ``seed + epoch`` (identical
    on every rank). Global step ``t`` of the epoch uses ``perm[t*B:(t+1)*B]`` with ``B`` the global
    batch; rank ``r`` takes rows ``[r*b, (r+1)*b)`` of it (``b = B / world_size``), so gathering
    the ranks' batches in rank order gives exactly the single-process batch. The incomplete last
    batch is dropped (every rank gets the same number of batches). ``set_epoch(e, start_step=k)``
    resumes mid-epoch at global step ``k``.
    """

    def __init__(self, num_items: int, global_batch: int, *, rank: int = 0, world_size: int = 1, seed: int = 0):
        if global_batch % world_size:
            raise ValueError(f"global batch {global_batch} is not divisible by world size {world_size}")
        if num_items < global_batch:
            raise ValueError(f"dataset has {num_items} items, fewer than one global batch of {global_batch}")
        self.num_items, self.global_batch = num_items, global_batch
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.local_batch = global_batch // world_size
        self.epoch, self.start_step = 0, 0

    @property
    def steps_per_epoch(self) -> int:
        return self.num_items // self.global_batch

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        if not 0 <= start_step <= self.steps_per_epoch:
            raise ValueError(f"start_step {start_step} outside [0, {self.steps_per_epoch}]")
        self.epoch, self.start_step = epoch, start_step

    def permutation(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(self.num_items, generator=g)

    def __iter__(self) -> Iterator[list[int]]:
        perm = self.permutation()
        lo = self.rank * self.local_batch
        for step in range(self.start_step, self.steps_per_epoch):
            batch = perm[step * self.global_batch : (step + 1) * self.global_batch]
            yield batch[lo : lo + self.local_batch].tolist()

    def __len__(self) -> int:
        return self.steps_per_epoch - self.start_step
