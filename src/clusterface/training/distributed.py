"""Distributed set-up: the process group comes from torchrun's environment, created by the entry point only.

Nothing here runs at import. ``init_distributed()`` is called by ``clusterface train`` (or a
test) before ``train()``; ``train()`` then reads the context with ``current_context()``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: rank, world size, local rank and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> this rank's GPU when CUDA is available, else CPU; otherwise ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def init_distributed(device: str = "auto", timeout_s: int = 120) -> DistContext:
    """Create the process group from RANK/WORLD_SIZE/LOCAL_RANK (torchrun) when WORLD_SIZE > 1.

    Backend: NCCL on GPU, gloo on CPU. MASTER_ADDR/MASTER_PORT come from torchrun (no fixed port
    here). Without those variables (plain ``python``) this returns a single-process context.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(
            backend="nccl" if dev.type == "cuda" else "gloo",
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout_s),
        )
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def current_context(device: str = "auto") -> DistContext:
    """The context of an already initialised process group (or a single process when there is none)."""
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
        return DistContext(rank, world, local_rank, resolve_device(device, local_rank))
    return DistContext(device=resolve_device(device))


def shutdown_distributed() -> None:
    """Destroy the process group if one exists (the entry point's counterpart of ``init_distributed``)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_max(value: float, ctx: DistContext) -> float:
    """Max of a scalar over ranks (used to agree on skipping a step or stopping)."""
    if not ctx.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def all_gather_tensor(x: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Concatenate equal-size tensors from all ranks along dim 0, in rank order (no gradient)."""
    if not ctx.distributed:
        return x
    parts = [torch.empty_like(x) for _ in range(ctx.world_size)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


class _GatherWithGrad(torch.autograd.Function):
    """All-gather whose backward returns this rank's slice of the gradient times world size.

    Replicated objective: every rank computes the same objective on the gathered global batch, so
    the gradient of the gathered tensor is identical on every rank; DDP then averages backbone
    gradients over ranks, hence the factor world size, which makes the result equal to a single
    process on the global batch.
    Class-sharded objective (``sum_gradients``): each rank's gradient of the gathered tensor is
    only its classes' share, so the shares are first summed over ranks (an all-reduce of B x d
    values: the true adjoint of the all-gather), then sliced and scaled as above.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, world_size: int, rank: int, sum_gradients: bool) -> torch.Tensor:  # type: ignore[override]
        ctx.world_size, ctx.rank, ctx.n, ctx.sum_gradients = world_size, rank, x.shape[0], sum_gradients
        parts = [torch.empty_like(x) for _ in range(world_size)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        if ctx.sum_gradients:
            grad = grad.contiguous()
            dist.all_reduce(grad)
        start = ctx.rank * ctx.n
        return grad[start : start + ctx.n] * ctx.world_size, None, None, None


def all_gather_with_grad(x: torch.Tensor, ctx: DistContext, sum_gradients: bool = False) -> torch.Tensor:
    """All-gather ``x`` (B, ...) -> (world*B, ...) keeping the autograd path to this rank's rows.

    ``sum_gradients``: the ranks' gradients of the result are partial (class-sharded objective)
    and are summed before this rank takes its rows.
    """
    if not ctx.distributed:
        return x
    return _GatherWithGrad.apply(x, ctx.world_size, ctx.rank, sum_gradients)


# ------------------------------------------------------------------------------- lost ranks

_ALIVE_KEY = "clusterface/alive/"
_COMM_ERROR = re.compile(r"gloo|nccl|connection|timed out|timeout|broken pipe|peer", re.IGNORECASE)


class LostRankError(RuntimeError):
    """Another rank stopped (killed, out of memory, its machine died) or stopped answering; the
    message names it when the ranks' last reported steps tell, and says how to resume."""


def _store() -> object | None:
    try:
        return dist.distributed_c10d._get_default_store()  # the rendezvous store torchrun set up
    except Exception:
        return None


def mark_alive(ctx: DistContext, step: int) -> None:
    """Record that this rank started global step ``step`` (one small store write per step), so a
    survivor can tell which rank stopped first."""
    if not ctx.distributed:
        return
    store = _store()
    if store is not None:
        store.set(f"{_ALIVE_KEY}{ctx.rank}", str(step))  # type: ignore[attr-defined]


def is_communication_error(err: BaseException) -> bool:
    """True for the errors a collective raises when a peer is gone or silent (gloo / NCCL / store)."""
    dist_error = getattr(dist, "DistError", None)
    return (dist_error is not None and isinstance(err, dist_error)) or bool(_COMM_ERROR.search(str(err)))


def describe_lost_ranks(ctx: DistContext, step: int, err: BaseException) -> str:
    """What a surviving rank says when a collective fails: which rank(s) stopped reporting steps."""
    store = _store()
    lost = "another rank"
    if store is None:
        lost = "rank 0 (it holds the rendezvous store, which cannot be reached)"
    else:
        try:
            steps: dict[int, int] = {}
            for r in range(ctx.world_size):
                key = f"{_ALIVE_KEY}{r}"
                if store.check([key]):  # type: ignore[attr-defined]
                    steps[r] = int(store.get(key))  # type: ignore[attr-defined]
            newest = max(steps.values(), default=step)
            behind = [r for r in range(ctx.world_size) if r != ctx.rank and steps.get(r, -1) < newest]
            if behind:
                lost = ", ".join(f"rank {r} (last seen at step {steps.get(r, 'none')})" for r in behind)
        except Exception:
            lost = "rank 0 (it holds the rendezvous store, which no longer answers)"
    first_line = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
    return (
        f"rank {ctx.rank}: lost {lost} at step {step} ({first_line}); every rank stops. Rerun the same command "
        "to resume from the last checkpoint"
    )
