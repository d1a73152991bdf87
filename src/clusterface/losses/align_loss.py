"""Cluster-aligning loss: pull each classifier row towards its momentum centre (METHOD.md)."""

from __future__ import annotations

import torch
from torch import nn

from clusterface.heads.angular import at_least_float32, l2_normalize


class ClusterAlignLoss(nn.Module):
    """L_align = (1/|U_B|) sum_{k in U_B} (1 - Ŵ_k . sg(c_k)), U_B = the batch's known classes.

    The gradient reaches only W (centres are detached). 0 if no class of the batch is known.
    """

    def forward(
        self, weight: torch.Tensor, labels: torch.Tensor, centres: torch.Tensor, known: torch.Tensor
    ) -> torch.Tensor:
        """weight (C, d) classifier rows, labels (B,), centres (C, d), known (C,) bool -> scalar."""
        classes = torch.unique(labels)
        classes = classes[known[classes]]
        with torch.autocast(weight.device.type, enabled=False):
            if classes.numel() == 0:
                return at_least_float32(weight[:1]).sum() * 0.0
            w = l2_normalize(at_least_float32(weight.index_select(0, classes)))
            c = centres.index_select(0, classes).detach().to(w.dtype)
            return (1.0 - (w * c).sum(dim=1)).mean()
