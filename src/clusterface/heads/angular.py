"""Numerically safe angular-margin arithmetic shared by the margins (normalisation is in clusterface.ops)."""

from __future__ import annotations

import math

import torch

# Smallest value of sin^2(theta) used in sqrt: keeps d sin/d cos finite at cos = +-1.
SIN_SQ_EPS = 1e-12


def cos_plus_margin(cos: torch.Tensor, margin: torch.Tensor | float) -> torch.Tensor:
    """cos(theta + m) with ArcFace's fallback, differentiable in ``cos`` (docs/method.md, CG-ArcFace).

    cos(theta + m) = cos(theta) cos(m) - sin(theta) sin(m), sin(theta) = sqrt(max(1 - cos^2, eps)),
    which avoids acos and its infinite derivative at cos = +-1. Where theta + m > pi
    (cos(theta) <= cos(pi - m)) the target logit would stop being monotone in theta, so
    ArcFace uses cos(theta) - m sin(m) instead ("easy margin" off).
    ``cos`` and ``margin`` broadcast; shapes (...,).
    """
    margin_t = torch.as_tensor(margin, dtype=cos.dtype, device=cos.device)
    cos = cos.clamp(-1.0, 1.0)
    sin = torch.sqrt((1.0 - cos * cos).clamp_min(SIN_SQ_EPS))
    cos_m, sin_m = torch.cos(margin_t), torch.sin(margin_t)
    shifted = cos * cos_m - sin * sin_m
    threshold = torch.cos(math.pi - margin_t)
    return torch.where(cos > threshold, shifted, cos - margin_t * sin_m)


def safe_acos(cos: torch.Tensor) -> torch.Tensor:
    """acos with its argument kept inside (-1, 1) so that the gradient stays finite."""
    eps = 1e-7 if cos.dtype == torch.float64 else 1e-6
    return torch.acos(cos.clamp(-1.0 + eps, 1.0 - eps))
