"""CosFace's additive cosine margin: cos(theta_y) - m (Wang et al. 2018)."""

from __future__ import annotations

import torch

from clusterface.heads.margin import Margin


class CosFaceMargin(Margin):
    """Target cosine cos(theta) - m."""

    def __init__(self, margin: float = 0.35) -> None:
        super().__init__()
        self.margin = float(margin)

    def target_cosine(self, cos_target: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        return cos_target - self.margin

    def extra_repr(self) -> str:
        return f"margin={self.margin}"
