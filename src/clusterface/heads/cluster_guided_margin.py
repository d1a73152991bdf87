"""CG-ArcFace: ArcFace with a per-class margin m_k from cluster concentration (docs/method.md, CG-ArcFace)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from clusterface.heads.angular import cos_plus_margin
from clusterface.heads.margin import Margin

if TYPE_CHECKING:  # heads <-> memory would otherwise import each other
    from clusterface.memory.class_centre_memory import ClassCentreMemory


class ClusterGuidedMargin(Margin):
    """Target cosine cos(theta + m_y) with m_y read from ``memory.margins`` (C,).

    The margins are computed by the memory from the concentration (m_k = m0 + Delta
    clip(beta u_k, -1, 1)) and are constants here: the gradient flows through cos(theta)
    only, as in ArcFace. While ``enabled`` is False (the warm-up), or for Delta = 0, every
    class gets m0 and the result is bitwise ArcFace's.
    """

    def __init__(self, memory: ClassCentreMemory, base_margin: float = 0.5) -> None:
        super().__init__()
        # Not a submodule: the objective owns the memory; this only reads its margins.
        self._memory = [memory]
        self.base_margin = float(base_margin)
        self.enabled = True

    @property
    def memory(self) -> ClassCentreMemory:
        return self._memory[0]

    def target_cosine(self, cos_target: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            m = self.memory.margins.index_select(0, classes).to(cos_target.dtype)
        else:
            m = torch.full_like(cos_target, self.base_margin)
        return cos_plus_margin(cos_target, m)

    def extra_repr(self) -> str:
        return f"base_margin={self.base_margin}, enabled={self.enabled}"
