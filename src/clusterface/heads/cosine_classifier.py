"""Cosine classifier head: s * margin(cos(x, W)) logits (docs/method.md, CG-ArcFace)."""

from __future__ import annotations

import torch
from torch import nn

from clusterface.heads.margin import Margin
from clusterface.ops import NORM_EPS, at_least_float32, l2_normalize


def row_normalised_cosine(embeddings: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(B, d), (K, d) -> (B, K) cosines x̂ Ŵ^T computed as (x̂ W^T) / ||w_k||.

    Equal in value and gradient to normalising W first (``l2_normalize`` divides by
    max(||w||, eps), as here), but never materialises a normalised K x d copy of W nor
    back-propagates through one: the division acts on the (B, K) product and the
    norm's gradient is a K-vector, which is what makes the head cheap at large K.
    Float32 with autocast off (float64 stays float64).
    """
    with torch.autocast(embeddings.device.type, enabled=False):
        x = l2_normalize(at_least_float32(embeddings))
        w = at_least_float32(weight).to(x.dtype)
        return _DividedCosine.apply(x, w)


class _DividedCosine(torch.autograd.Function):
    """cos = (x̂ W^T) / max(||w_k||, eps) with a hand-written backward.

    Autograd's own backward of ``w.norm(dim=1)`` makes several passes over the K x d weight;
    here the norm's share of dL/dW is one fused update of the product's gradient:
        G' = G / n_c                                   (B, K), n_c = max(||w_k||, eps)
        dL/dx̂ = G' W                                   (B, d)
        dL/dW = G'^T x̂ - (sum_b G'_bk cos_bk / ||w_k||) w_k   (K, d); the second term is 0 where
                ||w_k|| < eps (the clamp passes no gradient), as with ``F.normalize``.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        norms = w.norm(dim=1)
        clamped = norms.clamp_min(NORM_EPS)
        cos = (x @ w.t()).div_(clamped)
        ctx.save_for_backward(x, w, norms, clamped, cos)
        return cos

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:  # type: ignore[override]
        x, w, norms, clamped, cos = ctx.saved_tensors
        scaled = grad / clamped
        grad_x = scaled @ w if ctx.needs_input_grad[0] else None
        grad_w = None
        if ctx.needs_input_grad[1]:
            coefficient = (scaled * cos).sum(dim=0) / clamped
            coefficient = torch.where(norms >= NORM_EPS, coefficient, torch.zeros_like(coefficient))
            grad_w = (scaled.t() @ x).sub_(w * coefficient.unsqueeze(1))
        return grad_x, grad_w


class CosineClassifier(nn.Module):
    """C x d class weights W; logits s * margin(x̂ Ŵ^T) (insightface's PartialFC shape).

    The margin object is passed in (ArcFaceMargin, CosFaceMargin, CombinedMargin,
    ClusterGuidedMargin). Cosines, margin and logits are computed in float32 with
    autocast off, so bf16 autocast elsewhere leaves them exact.
    """

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int,
        margin: Margin,
        scale: float = 64.0,
        weight: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        # ``weight``: initial rows given by the caller (a class shard); else N(0, 0.01^2) drawn here.
        if weight is None:
            weight = torch.empty(num_classes, embedding_dim).normal_(0.0, 0.01)
        elif tuple(weight.shape) != (num_classes, embedding_dim):
            raise ValueError(f"weight {tuple(weight.shape)} != ({num_classes}, {embedding_dim})")
        self.weight = nn.Parameter(weight)
        self.margin = margin
        self.scale = float(scale)

    @property
    def num_classes(self) -> int:
        return int(self.weight.shape[0])

    def cosine(self, embeddings: torch.Tensor, columns: torch.Tensor | None = None) -> torch.Tensor:
        """(B, d) -> (B, K) cosines to all classes or to ``columns`` (K,); float32 (float64 stays float64)."""
        weight = self.weight if columns is None else self.weight.index_select(0, columns)
        return row_normalised_cosine(embeddings, weight)

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
