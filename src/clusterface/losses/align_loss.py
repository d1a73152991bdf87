"""Cluster-aligning loss: pull each classifier row towards its momentum centre (METHOD.md)."""

from __future__ import annotations

import torch
from torch import nn

from clusterface.heads.angular import l2_normalize


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
                return weight[:1].float().sum() * 0.0
            w = l2_normalize(weight.index_select(0, classes).float())
            c = centres.index_select(0, classes).detach().float()
            return (1.0 - (w * c).sum(dim=1)).mean()
