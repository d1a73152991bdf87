"""Cosine classifier head: s * margin(cos(x, W)) logits (docs/method.md, CG-ArcFace)."""

from __future__ import annotations

import torch
from torch import nn

from clusterface.heads.margin import Margin
from clusterface.ops import at_least_float32, l2_normalize


class CosineClassifier(nn.Module):
    """C x d class weights W; logits s * margin(x̂ Ŵ^T) (insightface's PartialFC shape).

    The margin object is passed in (ArcFaceMargin, CosFaceMargin, CombinedMargin,
    ClusterGuidedMargin). Cosines, margin and logits are computed in float32 with
    autocast off, so bf16 autocast elsewhere leaves them exact.
    """

    def __init__(self, num_classes: int, embedding_dim: int, margin: Margin, scale: float = 64.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim).normal_(0.0, 0.01))
        self.margin = margin
        self.scale = float(scale)

    @property
    def num_classes(self) -> int:
        return int(self.weight.shape[0])

    def cosine(self, embeddings: torch.Tensor, columns: torch.Tensor | None = None) -> torch.Tensor:
        """(B, d) -> (B, K) cosines to all classes or to ``columns`` (K,); float32 (float64 stays float64)."""
        weight = self.weight if columns is None else self.weight.index_select(0, columns)
        with torch.autocast(embeddings.device.type, enabled=False):
            x = l2_normalize(at_least_float32(embeddings))
            w = l2_normalize(at_least_float32(weight)).to(x.dtype)
            return x @ w.t()

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, columns: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, d), (B,) class ids -> (B, K) float32 logits with the margin on the targets.

        ``columns`` (K,) restricts the logits to a sorted subset of classes that contains
        every label (negative sampling); logits are then indexed by position in ``columns``.
        """
        cos = self.cosine(embeddings, columns)
        target = labels if columns is None else torch.searchsorted(columns, labels)
        with torch.autocast(embeddings.device.type, enabled=False):
            return self.margin(cos, target, labels) * self.scale
