"""Which classes a rank owns, and the few collectives the class-sharded objective needs.

Rank r of W owns the contiguous class range [start, stop): the first C mod W ranks one class
more than the others (uneven when W does not divide C). Every collective here is a no-op at
world size 1, so the sharded objective also runs in a plain single process. The default
process group is used (the one ``init_distributed`` creates).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.distributed as dist


def class_range(num_classes: int, world_size: int, rank: int) -> tuple[int, int]:
    """[start, stop) of ``rank``'s classes; sizes differ by at most one, larger ranks first."""
    if num_classes < world_size:
        raise ValueError(f"cannot shard {num_classes} classes over {world_size} ranks: every rank needs a class")
    base, extra = divmod(num_classes, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


@dataclass(frozen=True)
class ClassPartition:
    """This rank's share of the C classes, and per-class collectives over all ranks."""

    num_classes: int
    rank: int = 0
    world_size: int = 1

    @classmethod
    def current(cls, num_classes: int) -> ClassPartition:
        """The partition of the initialised default process group (world size 1 without one)."""
        if dist.is_available() and dist.is_initialized():
            return cls(num_classes, dist.get_rank(), dist.get_world_size())
        return cls(num_classes)

    @property
    def start(self) -> int:
        return class_range(self.num_classes, self.world_size, self.rank)[0]

    @property
    def stop(self) -> int:
        return class_range(self.num_classes, self.world_size, self.rank)[1]

    @property
    def size(self) -> int:
        return self.stop - self.start

    @property
    def sizes(self) -> list[int]:
        """Number of classes of every rank, in rank order."""
        return [b - a for a, b in (class_range(self.num_classes, self.world_size, r) for r in range(self.world_size))]

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def all_reduce(self, t: torch.Tensor, op: str = "sum") -> torch.Tensor:
        """In-place all-reduce (``sum`` or ``max``) of a small tensor; returns it."""
        if self.distributed:
            dist.all_reduce(t, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
        return t

    def _padded(self, rows: torch.Tensor) -> tuple[torch.Tensor, int]:
        longest = max(self.sizes)
        if rows.shape[0] == longest:
            return rows.contiguous(), longest
        pad = rows.new_zeros((longest - rows.shape[0], *rows.shape[1:]))
        return torch.cat([rows, pad]), longest

    def all_gather_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """(C_r, ...) own rows -> (C, ...) every rank's rows in class order (uneven sizes padded)."""
        if not self.distributed:
            return rows
        padded, _ = self._padded(rows)
        # gloo has no all-gather of bool: carry bool as uint8
        carrier = padded.to(torch.uint8) if padded.dtype == torch.bool else padded
        parts = [torch.empty_like(carrier) for _ in range(self.world_size)]
        dist.all_gather(parts, carrier)
        full = torch.cat([p[:n] for p, n in zip(parts, self.sizes, strict=True)])
        return full.to(rows.dtype)

    def gather_rows_to_main(self, rows: torch.Tensor) -> torch.Tensor | None:
        """Like ``all_gather_rows`` but only rank 0 receives the (C, ...) result; others get None.

        Checkpoint-time only (a full C x d copy lands on rank 0 alone).
        """
        if not self.distributed:
            return rows
        padded, _ = self._padded(rows)
        carrier = padded.to(torch.uint8) if padded.dtype == torch.bool else padded
        parts = [torch.empty_like(carrier) for _ in range(self.world_size)] if self.rank == 0 else None
        dist.gather(carrier, parts, dst=0)
        if parts is None:
            return None
        return torch.cat([p[:n] for p, n in zip(parts, self.sizes, strict=True)]).to(rows.dtype)

    def own_rows(self, full: torch.Tensor) -> torch.Tensor:
        """(C, ...) -> this rank's (C_r, ...) rows (a copy)."""
        if full.shape[0] != self.num_classes:
            raise ValueError(f"expected {self.num_classes} rows of per-class state, got {tuple(full.shape)}")
        return full[self.start : self.stop].clone()

    def broadcast_object(self, obj: object) -> object:
        """Rank 0's Python object on every rank (checkpoint loading)."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def init_rows_like_full(partition: ClassPartition, dim: int, std: float, chunk_elements: int = 1 << 22) -> torch.Tensor:
    """This rank's rows of ``torch.empty(C, dim).normal_(0, std)`` drawn from the global RNG.

    Every rank draws the whole (C, dim) stream in chunks and keeps its own rows, so the shard
    equals the replicated initialisation and the global RNG ends in the same state, without a
    C x dim tensor in memory. CPU ``normal_`` fills 16 values at a time and redraws the last 16 of
    a tensor whose size is not a multiple of 16: chunks therefore hold a multiple of 16 values,
    and the last one at least 16 (tests/method/test_method_sharded.py checks the equality).
    """
    c = partition.num_classes
    step = 16 // math.gcd(dim, 16)  # rows per whole number of 16-value blocks
    rows_per_chunk = max(step, (chunk_elements // max(dim, 1)) // step * step)
    bounds = [*range(0, c, rows_per_chunk), c]
    if len(bounds) > 2 and (bounds[-1] - bounds[-2]) * dim < 16:
        del bounds[-2]  # merge a short tail into the previous chunk
    out = torch.empty(partition.size, dim)
    for a, b in itertools.pairwise(bounds):
        chunk = torch.empty(b - a, dim).normal_(0.0, std)
        lo, hi = max(a, partition.start), min(b, partition.stop)
        if lo < hi:
            out[lo - partition.start : hi - partition.start] = chunk[lo - a : hi - a]
    return out
