"""The margin interface: a module that modifies the target-class cosine."""

from __future__ import annotations

import torch
from torch import nn


class Margin(nn.Module):
    """Base class: ``margin(cos, target) -> cos'`` with the target columns modified.

    cos:     (B, K) float32 cosines between normalised embeddings and class weights.
    target:  (B,) int64 column of each sample's class in ``cos``.
    classes: (B,) int64 class id of each sample (differs from ``target`` when the head
             uses a sampled subset of the C classes); defaults to ``target``.
    Returns (B, K) cosines with a margin on the target entries (not scaled; the head
    multiplies by s). Non-target entries are untouched.
    """

    def target_cosine(self, cos_target: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """(B,) target cosines -> (B,) cosines with the margin applied."""
        raise NotImplementedError

    def forward(self, cos: torch.Tensor, target: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
        classes = target if classes is None else classes
        index = target.view(-1, 1)
        cos_target = cos.gather(1, index).squeeze(1)
        modified = self.target_cosine(cos_target, classes)
        return cos.scatter(1, index, modified.unsqueeze(1).to(cos.dtype))
