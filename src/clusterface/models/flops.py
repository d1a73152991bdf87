"""Parameter and FLOP counts of a backbone (``clusterface models``)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_size: tuple[int, int] = (112, 112)) -> int:
    """FLOPs of one forward pass on one image, counted by ``torch.utils.flop_counter``.

    FlopCounterMode counts a multiply-add as 2 FLOPs (so this is 2x the "MACs" that
    many face-recognition papers quote) and only counts matmul/convolution-like ops.
    Works on a model built on the "meta" device (no memory, no compute).
    """
    was_training = model.training
    model.eval()
    try:
        device = next(iter(model.parameters())).device
        x = torch.zeros(1, 3, *input_size, device=device)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(x)
        return int(counter.get_total_flops())
    finally:
        model.train(was_training)
