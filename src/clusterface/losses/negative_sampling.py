"""Class subsets for large C: a random sample that always contains the batch's classes."""

from __future__ import annotations

import torch


def sample_classes(
    labels: torch.Tensor, num_classes: int, num_samples: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Sorted (K,) class ids: every class in ``labels`` plus random others, K = max(num_samples, #unique).

    As insightface's PartialFC: positives get score 2, the rest uniform [0, 1), top-K.
    The same columns serve the classification and the SCC logits (docs/method.md, Scale).
    """
    if num_samples >= num_classes:
        return torch.arange(num_classes, device=labels.device)
    scores = torch.rand(num_classes, device=labels.device, generator=generator)
    scores.index_fill_(0, labels, 2.0)
    positives = int(torch.unique(labels).numel())
    k = max(num_samples, positives)
    return torch.topk(scores, k, sorted=False).indices.sort().values
