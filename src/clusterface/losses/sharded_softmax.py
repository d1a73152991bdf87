"""Softmax cross-entropy over classes split across ranks, with exact gradients (no C-sized traffic)."""

from __future__ import annotations

from typing import Any

import torch

from clusterface.memory.class_partition import ClassPartition


class _ShardedCrossEntropy(torch.autograd.Function):
    """Per-sample -log softmax(l)[y] where each rank holds the columns of its own classes.

    Forward: global row max (all-reduce max of B values), global sum of exp(l - max)
    (all-reduce sum of B values) and the target logit from the rank that owns it (all-reduce
    sum of B values, zeros elsewhere). Backward, on every rank for its own columns only:
    d loss_i / d l_ik = p_ik - [k = y_i], with p the global softmax.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, logits: torch.Tensor, target: torch.Tensor, owned: torch.Tensor, partition: ClassPartition
    ) -> torch.Tensor:
        with torch.no_grad():
            if logits.shape[1] > 0:
                row_max = logits.amax(dim=1)
            else:
                row_max = torch.full(logits.shape[:1], -torch.inf, dtype=logits.dtype, device=logits.device)
            partition.all_reduce(row_max, "max")
            exp = torch.exp(logits - row_max.unsqueeze(1))
            sum_exp = partition.all_reduce(exp.sum(dim=1), "sum")
            target_logit = torch.where(owned, logits.gather(1, target.unsqueeze(1)).squeeze(1), 0.0)
            partition.all_reduce(target_logit, "sum")
            loss = torch.log(sum_exp) + row_max - target_logit
            prob = exp.div_(sum_exp.unsqueeze(1))
        ctx.save_for_backward(prob, target, owned)
        return loss

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor) -> tuple[torch.Tensor | None, None, None, None]:  # type: ignore[override]
        prob, target, owned = ctx.saved_tensors
        grad = prob * grad_loss.unsqueeze(1)
        grad.scatter_add_(1, target.unsqueeze(1), -(grad_loss * owned.to(grad.dtype)).unsqueeze(1))
        return grad, None, None, None


def sharded_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, owned: torch.Tensor, partition: ClassPartition
) -> torch.Tensor:
    """(B, K_r) this rank's logits, (B,) target column (any value where not ``owned``), (B,) bool -> (B,) loss.

    Every rank returns the same per-sample losses (the global softmax cross-entropy); the
    gradient reaches this rank's logits only, so the gradients of all ranks together are
    exactly those of one softmax over all C columns. Collective: every rank must call it.
    """
    target = torch.where(owned, target, torch.zeros_like(target)) if logits.shape[1] > 0 else target
    return _ShardedCrossEntropy.apply(logits, target, owned, partition)
