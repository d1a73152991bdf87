"""Momentum (EMA) copy of the online encoder: xi <- mu xi + (1 - mu) theta (docs/method.md, Momentum encoder)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def horizon_momentum(horizon_epochs: float, steps_per_epoch: int) -> float:
    """mu = 1 - 1/(h * steps_per_epoch): the EMA whose horizon is ``h`` epochs (docs/method.md, Momentum encoder).

    An EMA with momentum mu averages over ~1/(1 - mu) steps, so the horizon is fixed in
    epochs rather than steps: mu ~ 0.999 for MS1MV2's ~11k steps/epoch at h = 0.1, 0.808 for
    the demo's 52. A horizon of one step or less gives mu = 0 (xi follows theta exactly).
    """
    if horizon_epochs <= 0 or steps_per_epoch < 1:
        raise ValueError(f"need horizon_epochs > 0 and steps_per_epoch >= 1, got {horizon_epochs}, {steps_per_epoch}")
    return max(0.0, 1.0 - 1.0 / (horizon_epochs * steps_per_epoch))


def warmup_end_step(warmup_epochs: float, steps_per_epoch: int) -> int:
    """The number of optimiser steps in the warm-up: the first step t with epoch(t) >= warmup_epochs.

    epoch(t) = t // steps_per_epoch + (t % steps_per_epoch) / steps_per_epoch, computed exactly as
    the trainer passes it to ``objective.set_progress``, so the boundary matches the objective's
    own switch even where ``warmup_epochs * steps_per_epoch`` is not an integer.
    """

    def progress(t: int) -> float:
        e, k = divmod(t, steps_per_epoch)
        return e + k / steps_per_epoch

    t = max(0, math.ceil(warmup_epochs * steps_per_epoch) - 1)
    while progress(t) < warmup_epochs:
        t += 1
    while t > 0 and not progress(t - 1) < warmup_epochs:
        t -= 1
    return t


class MomentumEncoder(nn.Module):
    """EMA of a model's parameters AND floating-point buffers (BN running stats included).

    The copy never receives gradients (requires_grad False, forward under inference
    mode) and runs in eval mode, so its BatchNorm uses the averaged running statistics
    instead of updating its own. ``update(model)`` after every optimiser step does
    xi <- mu xi + (1 - mu) theta with fused ``torch._foreach_mul_``/``_foreach_add_`` (one
    kernel per dtype/device group instead of one per tensor). Integer buffers (BN's
    num_batches_tracked) are copied. Training-only: never exported.
    """

    def __init__(self, model: nn.Module, momentum: float = 0.999) -> None:
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.encoder = copy.deepcopy(model)
        self.encoder.requires_grad_(False)
        self.encoder.eval()
        self._cache: tuple[int, list[torch.Tensor], list[torch.Tensor], list[tuple[torch.Tensor, torch.Tensor]]] | None
        self._cache = None

    def _tensors(
        self, model: nn.Module
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[tuple[torch.Tensor, torch.Tensor]]]:
        """Matching (copy, online) float tensors and integer buffers, cached per online model."""
        if self._cache is not None and self._cache[0] == id(model):
            return self._cache[1], self._cache[2], self._cache[3]
        mine = dict(self.encoder.named_parameters()) | dict(self.encoder.named_buffers())
        theirs = dict(model.named_parameters()) | dict(model.named_buffers())
        if mine.keys() != theirs.keys():
            raise ValueError("MomentumEncoder.update: the model's parameters/buffers differ from the copy's")
        ema: list[torch.Tensor] = []
        online: list[torch.Tensor] = []
        ints: list[tuple[torch.Tensor, torch.Tensor]] = []
        for name, t in mine.items():
            if t.is_floating_point():
                ema.append(t)
                online.append(theirs[name])
            else:
                ints.append((t, theirs[name]))
        self._cache = (id(model), ema, online, ints)
        return ema, online, ints

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """xi <- mu xi + (1 - mu) theta for parameters and float buffers; copy integer buffers."""
        ema, online, ints = self._tensors(model)
        # the formula literally: mu * xi, then + (1 - mu) * theta (fused over all tensors)
        torch._foreach_mul_(ema, self.momentum)
        torch._foreach_add_(ema, online, alpha=1.0 - self.momentum)
        for mine, theirs in ints:
            mine.copy_(theirs)

    @torch.no_grad()
    def restart(self, model: nn.Module) -> None:
        """xi <- theta for parameters and ALL buffers (the restart at the end of warm-up, docs/method.md)."""
        ema, online, ints = self._tensors(model)
        torch._foreach_copy_(ema, online)
        for mine, theirs in ints:
            mine.copy_(theirs)

    def train(self, mode: bool = True) -> MomentumEncoder:
        """The copy always stays in eval mode (its BN uses the averaged running stats)."""
        self.training = mode
        self.encoder.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, d) embeddings, computed without autograd."""
        with torch.inference_mode():
            out = self.encoder(x)
        # a plain (non-inference) tensor, usable by later autograd-recorded code as a constant
        return out.clone()
