"""PCL concentration and the per-class margin and temperature derived from it (docs/method.md, Concentration).

Pure functions on C-row tensors; ``ClassCentreMemory`` calls them and stores the results.
"""

from __future__ import annotations

import math

import torch


def concentration_rms(sums: torch.Tensor, counts: torch.Tensor, alpha: float = 10.0) -> torch.Tensor:
    """PCL's phi, root-mean-square variant, closed form from running sums (default).

    sums (C, d) = sum of unit features z_i of class k in the window; counts (C,) = n_k.
    With c_k = S_k / ||S_k|| and r_k = ||S_k|| / n_k: mean_i ||z_i - c_k||^2 = 2 (1 - r_k), so
    phi_k = sqrt(2 (1 - r_k)) / log(n_k + alpha). Entries with n_k = 0 are NaN-free (0);
    the caller masks them.
    """
    n = counts.to(sums.dtype)
    mean_resultant = sums.norm(dim=1) / n.clamp_min(1.0)
    spread = torch.sqrt((2.0 * (1.0 - mean_resultant)).clamp_min(0.0))
    return spread / torch.log(n + alpha)


def concentration_mean_distance(distance_sums: torch.Tensor, counts: torch.Tensor, alpha: float = 10.0) -> torch.Tensor:
    """PCL's phi as published: (1/n_k) sum_i ||z_i - c_k|| / log(n_k + alpha).

    distance_sums (C,) = sum over the window of ||z_i - c_k|| measured against the centre
    at the time z_i arrived (streaming; no per-sample storage).
    """
    n = counts.to(distance_sums.dtype)
    return (distance_sums / n.clamp_min(1.0)) / torch.log(n + alpha)


def fill_and_clip(
    phi: torch.Tensor, counts: torch.Tensor, valid: torch.Tensor, percentiles: tuple[float, float] = (10.0, 90.0)
) -> torch.Tensor:
    """phi -> phi~: classes with n_k <= 1 get max phi (PCL), then clip to the percentiles.

    phi, counts: (C,); valid (C,) bool marks classes that take part (n_k >= 1). Both the
    max and the percentiles are taken over valid classes with n_k >= 2 (over all valid
    ones if there are none). Invalid entries are returned unchanged.
    """
    reliable = valid & (counts >= 2)
    pool = phi[reliable] if bool(reliable.any()) else phi[valid]
    if pool.numel() == 0:
        return phi.clone()
    filled = torch.where(valid & (counts <= 1), pool.max(), phi)
    pool = filled[valid]
    q = torch.tensor([percentiles[0] / 100.0, percentiles[1] / 100.0], dtype=pool.dtype, device=pool.device)
    low, high = torch.quantile(pool, q)  # linear interpolation, as numpy.percentile
    return torch.where(valid, filled.clamp(low, high), phi)


def standardise(values: torch.Tensor, valid: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """u_k = (v_k - mean v) / (std v + eps) over valid classes (population std); 0 elsewhere."""
    pool = values[valid]
    if pool.numel() == 0:
        return torch.zeros_like(values)
    mean = pool.mean()
    std = pool.std(unbiased=False) if pool.numel() > 1 else torch.zeros_like(mean)
    return torch.where(valid, (values - mean) / (std + eps), torch.zeros_like(values))


def cluster_guided_margins(
    phi_clipped: torch.Tensor, valid: torch.Tensor, base: float = 0.5, delta: float = 0.1, beta: float = 1.0
) -> torch.Tensor:
    """m_k = m0 + Delta * clip(beta u_k, -1, 1), u = standardised phi~ (docs/method.md, CG-ArcFace).

    Larger phi (looser cluster, lower concentration) -> larger margin; m_k in [m0 - Delta, m0 + Delta].
    Classes not ``valid`` get m0.
    """
    u = standardise(phi_clipped, valid)
    margins = base + delta * (beta * u).clamp(-1.0, 1.0)
    return torch.where(valid, margins, torch.full_like(margins, base))


def adaptive_temperatures(phi_clipped: torch.Tensor, valid: torch.Tensor, base: float = 0.1) -> torch.Tensor:
    """tau_k = tau0 * phi~_k / mean(phi~) over valid classes (docs/method.md, SCC); tau0 elsewhere."""
    pool = phi_clipped[valid]
    if pool.numel() == 0 or not math.isfinite(float(pool.mean())) or float(pool.mean()) <= 0:
        return torch.full_like(phi_clipped, base)
    temps = base * phi_clipped / pool.mean()
    # A class whose phi~ is 0 (all features identical) would get tau = 0: keep it positive.
    temps = temps.clamp_min(base * 1e-3)
    return torch.where(valid, temps, torch.full_like(temps, base))
