"""insightface's combined margin: cos(m1 theta + m2) - m3, with named fields."""

from __future__ import annotations

import math

import torch

from clusterface.heads.angular import cos_plus_margin, safe_acos
from clusterface.heads.margin import Margin


class CombinedMargin(Margin):
    """Target cosine cos(multiplicative_angular * theta + additive_angular) - additive_cosine.

    (1, m, 0) is ArcFace, (1, 0, m) is CosFace, (m, 0, 0) is SphereFace-like. With
    multiplicative_angular = 1 the acos-free ArcFace formula (and its fallback) is used;
    otherwise theta = acos(cos) with the argument clamped inside (-1, 1), and where
    m1 theta + m2 > pi the target falls back to cos(theta) - m2 sin(m2) - m3 as insightface.
    """

    def __init__(
        self, multiplicative_angular: float = 1.0, additive_angular: float = 0.5, additive_cosine: float = 0.0
    ) -> None:
        super().__init__()
        self.multiplicative_angular = float(multiplicative_angular)
        self.additive_angular = float(additive_angular)
        self.additive_cosine = float(additive_cosine)

    def target_cosine(self, cos_target: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        m1, m2, m3 = self.multiplicative_angular, self.additive_angular, self.additive_cosine
        if m1 == 1.0:
            angular = cos_plus_margin(cos_target, torch.full_like(cos_target, m2)) if m2 != 0 else cos_target
            return angular - m3
        theta = safe_acos(cos_target)
        shifted = torch.cos(m1 * theta + m2)
        fallback = cos_target - m2 * math.sin(m2)
        return torch.where(m1 * theta + m2 < math.pi, shifted, fallback) - m3

    def extra_repr(self) -> str:
        return (
            f"multiplicative_angular={self.multiplicative_angular}, additive_angular={self.additive_angular}, "
            f"additive_cosine={self.additive_cosine}"
        )
