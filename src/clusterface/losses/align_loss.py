"""Cluster-aligning loss: pull each classifier row towards its momentum centre (docs/method.md, Cluster aligning)."""

from __future__ import annotations

import torch
from torch import nn

from clusterface.ops import at_least_float32, l2_normalize


class ClusterAlignLoss(nn.Module):
    """L_align = (1/|U_B|) sum_{k in U_B} (1 - Ŵ_k . sg(c_k)), U_B = the batch's known classes.

    The gradient reaches only W (centres are detached). 0 if no class of the batch is known.
    """

    def forward(
        self, weight: torch.Tensor, labels: torch.Tensor, centres: torch.Tensor, known: torch.Tensor
    ) -> torch.Tensor:
        """weight (C, d) classifier rows, labels (B,), centres (C, d), known (C,) bool -> scalar.

        Written per sample with weight 1 / (count of its label in the batch), which sums
        each unique class once, so that it needs neither ``unique`` nor a host sync.
        """
        with torch.autocast(weight.device.type, enabled=False):
            w = l2_normalize(at_least_float32(weight.index_select(0, labels)))
            c = centres.index_select(0, labels).detach().to(w.dtype)
            per_class_count = (labels.unsqueeze(0) == labels.unsqueeze(1)).sum(dim=1).to(w.dtype)
            share = known.index_select(0, labels).to(w.dtype) / per_class_count  # sums to |U_B| over i
            return ((1.0 - (w * c).sum(dim=1)) * share).sum() / share.sum().clamp_min(1.0)
