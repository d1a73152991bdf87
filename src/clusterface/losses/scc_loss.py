"""Supervised contrastive clustering loss with per-centre temperature (docs/method.md, SCC)."""

from __future__ import annotations

import torch
from torch import nn

from clusterface.ops import at_least_float32, l2_normalize

MASKED_LOGIT = -1e9  # logit of a centre that does not exist yet: exp() underflows to exactly 0


class SCCLoss(nn.Module):
    """L_scc = -(1/B') sum_i log softmax_k(x̂_i . c_k / tau_k)[y_i], k over known centres.

    Centres are constants (stop-gradient): the gradient reaches only the embeddings.
    ``adaptive=False`` uses the fixed tau0 for every centre (the ablation switch).
    Samples whose own class has no centre yet are left out (B' = samples kept); if none
    is left the loss is 0 (still connected to the graph). Computed in float32, without
    host synchronisation.
    """

    def __init__(self, temperature: float = 0.1, adaptive: bool = True) -> None:
        super().__init__()
        self.temperature = float(temperature)
        self.adaptive = adaptive

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        centres: torch.Tensor,
        temperatures: torch.Tensor,
        known: torch.Tensor,
        columns: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """embeddings (B, d), labels (B,) class ids, centres (C, d), temperatures (C,), known (C,) bool.

        ``columns`` (K,) sorted class ids containing every label restricts the negatives.
        """
        if columns is not None:
            centres, temperatures, known = centres[columns], temperatures[columns], known[columns]
            target = torch.searchsorted(columns, labels)
        else:
            target = labels
        with torch.autocast(embeddings.device.type, enabled=False):
            x = l2_normalize(at_least_float32(embeddings))
            c = centres.detach().to(x.dtype)
            logits = x @ c.t()
            if self.adaptive:
                logits = logits / temperatures.detach().to(x.dtype).unsqueeze(0)
            else:
                logits = logits / self.temperature
            # A large finite value instead of -inf keeps rows without any known centre finite
            # (they are dropped below); no host sync, so the GPU queue never drains here.
            logits = logits.masked_fill(~known.unsqueeze(0), MASKED_LOGIT)
            per_sample = torch.logsumexp(logits, dim=1) - logits.gather(1, target.unsqueeze(1)).squeeze(1)
            keep = known[target].to(per_sample.dtype)
            return (per_sample * keep).sum() / keep.sum().clamp_min(1.0)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, adaptive={self.adaptive}"
