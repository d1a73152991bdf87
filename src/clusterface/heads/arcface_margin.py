"""ArcFace's additive angular margin: cos(theta_y + m) (Deng et al. 2019)."""

from __future__ import annotations

import torch

from clusterface.heads.angular import cos_plus_margin
from clusterface.heads.margin import Margin


class ArcFaceMargin(Margin):
    """Target cosine cos(theta + m), with the theta + m > pi fallback (see ``cos_plus_margin``)."""

    def __init__(self, margin: float = 0.5) -> None:
        super().__init__()
        self.margin = float(margin)

    def target_cosine(self, cos_target: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        # A per-sample tensor, like ClusterGuidedMargin's, so that Delta = 0 is bitwise ArcFace.
        m = torch.full_like(cos_target, self.margin)
        return cos_plus_margin(cos_target, m)

    def extra_repr(self) -> str:
        return f"margin={self.margin}"
