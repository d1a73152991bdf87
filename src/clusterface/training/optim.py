"""Optimiser and per-step learning-rate schedule (linear warm-up, then cosine or polynomial decay)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from clusterface.config.schema import OptimConfig, ScheduleConfig


def parameter_groups(modules: Iterable[nn.Module], weight_decay: float, no_decay_norm_bias: bool) -> list[dict]:
    """Split trainable parameters into a decayed group and (optionally) an undecayed one for 1-D tensors.

    1-D parameters are norm-layer scales/shifts and biases; decaying them hurts (common practice in
    timm and insightface). The classifier weight W is 2-D and is decayed like the backbone.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for module in modules:
        for p in module.parameters():
            if not p.requires_grad:
                continue
            (no_decay if no_decay_norm_bias and p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(modules: Iterable[nn.Module], cfg: OptimConfig) -> torch.optim.Optimizer:
    """SGD with momentum or AdamW over the given modules' parameters."""
    groups = parameter_groups(modules, cfg.weight_decay, cfg.no_decay_norm_bias)
    if cfg.kind == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str, power: float, min_ratio: float) -> float:
    """Multiplier of the base lr at optimiser step ``step`` (0-based).

    Linear warm-up from 1/warmup to 1 over ``warmup_steps``; then cosine
    ``min + (1-min)(1+cos(pi t))/2`` or polynomial ``min + (1-min)(1-t)^power`` with ``t`` the
    fraction of the decay phase done.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    t = min(1.0, (step - warmup_steps) / decay_steps)
    shape = 0.5 * (1.0 + math.cos(math.pi * t)) if schedule == "cosine" else (1.0 - t) ** power
    return min_ratio + (1.0 - min_ratio) * shape


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step ``LambdaLR`` for ``cfg.epochs * steps_per_epoch`` steps (state saved in checkpoints)."""
    total = cfg.epochs * steps_per_epoch
    warmup = round(cfg.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        return lr_factor(step, total, warmup, cfg.decay, cfg.poly_power, cfg.min_lr_ratio)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
