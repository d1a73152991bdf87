"""All per-class state of the method in one module, as C-row tensors (docs/method.md, Class-centre memory).

Centres c_k, the window's running sums S_k and counts n_k, concentration phi_k,
margins m_k, temperatures tau_k and the known-class mask live here together, so that
sharding them by class (rank r owns a contiguous range of rows) is one change.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from clusterface.memory.class_partition import ClassPartition
from clusterface.memory.concentration import (
    adaptive_temperatures,
    cluster_guided_margins,
    concentration_mean_distance,
    concentration_rms,
    fill_and_clip,
)
from clusterface.ops import l2_normalize


class ClassCentreMemory(nn.Module):
    """Class centres + concentration statistics, updated from momentum features.

    Buffers (C = num_classes, d = dim):
      centres (C, d) unit vectors; known (C,) bool: the class has a centre;
      window_sums (C, d), window_counts (C,) int64, window_distance_sums (C,): this window;
      concentration (C,) phi~ (after filling and clipping); has_concentration (C,) bool;
      margins (C,) m_k; temperatures (C,) tau_k.
    Every update is vectorised (index_add_, index_copy_; no per-class Python, no host sync
    in ``update``).
    """

    centres: torch.Tensor
    known: torch.Tensor
    window_sums: torch.Tensor
    window_counts: torch.Tensor
    window_distance_sums: torch.Tensor
    concentration: torch.Tensor
    has_concentration: torch.Tensor
    margins: torch.Tensor
    temperatures: torch.Tensor

    def __init__(
        self,
        num_classes: int,
        dim: int,
        centre_momentum: float = 0.9,
        alpha: float = 10.0,
        concentration_kind: Literal["rms", "mean_distance"] = "rms",
        clip_percentiles: tuple[float, float] = (10.0, 90.0),
        base_margin: float = 0.5,
        margin_delta: float = 0.1,
        margin_beta: float = 1.0,
        margin_smoothing: float = 0.0,
        base_temperature: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_classes, self.dim = int(num_classes), int(dim)
        self.centre_momentum = float(centre_momentum)
        self.alpha = float(alpha)
        self.concentration_kind = concentration_kind
        self.clip_percentiles = (float(clip_percentiles[0]), float(clip_percentiles[1]))
        self.base_margin, self.margin_delta = float(base_margin), float(margin_delta)
        self.margin_beta, self.margin_smoothing = float(margin_beta), float(margin_smoothing)
        self.base_temperature = float(base_temperature)
        # While True (the warm-up), centres are the normalised window sums (accumulation);
        # afterwards the centre EMA (docs/method.md, Class-centre memory) applies.
        self.accumulate_only = False
        c = self.num_classes
        self.register_buffer("centres", torch.zeros(c, dim))
        self.register_buffer("known", torch.zeros(c, dtype=torch.bool))
        self.register_buffer("window_sums", torch.zeros(c, dim))
        self.register_buffer("window_counts", torch.zeros(c, dtype=torch.int64))
        self.register_buffer("window_distance_sums", torch.zeros(c))
        self.register_buffer("concentration", torch.zeros(c))
        self.register_buffer("has_concentration", torch.zeros(c, dtype=torch.bool))
        self.register_buffer("margins", torch.full((c,), float(base_margin)))
        self.register_buffer("temperatures", torch.full((c,), float(base_temperature)))

    @torch.no_grad()
    def update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Add a batch of (momentum) features (B, d) with labels (B,) to the window and centres.

        c_k <- normalise(gamma c_k + (1 - gamma) mean_{y_i = k} z_i) for the classes present
        (a class seen for the first time starts at its batch mean). Features are
        L2-normalised here.
        """
        z = l2_normalize(features.detach().float())
        labels = labels.to(self.centres.device)
        # Per-sample view of the batch's classes without torch.unique (no host sync): each
        # sample points at the first sample of its class, whose row collects the class sum,
        # so that duplicates of a class read bitwise the same sum and count.
        b = labels.numel()
        same = labels.unsqueeze(0) == labels.unsqueeze(1)
        positions = torch.arange(b, device=labels.device)
        first = torch.where(same, positions.unsqueeze(0), b).amin(dim=1)
        class_sums = torch.zeros_like(z).index_add_(0, first, z).index_select(0, first)
        class_counts = torch.bincount(first, minlength=b).index_select(0, first).to(z.dtype)
        seen_before = self.known.index_select(0, labels).unsqueeze(1)
        if self.concentration_kind == "mean_distance":
            # distance to the centre as it stands before this batch (the batch mean if new)
            reference = torch.where(seen_before, self.centres.index_select(0, labels), l2_normalize(class_sums))
            self.window_distance_sums.index_add_(0, labels, (z - reference).norm(dim=1))
        self.window_sums.index_add_(0, labels, z)
        self.window_counts.index_add_(0, labels, torch.ones_like(labels, dtype=torch.int64))
        if self.accumulate_only:
            new_centres = l2_normalize(self.window_sums.index_select(0, labels))
        else:
            batch_means = class_sums / class_counts.unsqueeze(1)
            old = self.centres.index_select(0, labels)
            blended = self.centre_momentum * old + (1.0 - self.centre_momentum) * batch_means
            new_centres = l2_normalize(torch.where(seen_before, blended, batch_means))
        # duplicate labels write identical rows, so the order of index_copy_ does not matter
        self.centres.index_copy_(0, labels, new_centres)
        self.known.index_fill_(0, labels, True)

    @torch.no_grad()
    def refresh(self, partition: ClassPartition | None = None) -> None:
        """Recompute phi~, m and tau from the window, then reset the window (docs/method.md, Concentration).

        Classes not seen in this window keep their previous phi~/m/tau; classes never
        seen keep m0 and tau0 and stay masked (``known`` False).

        ``partition``: this memory holds only its rank's rows of a class-sharded memory. The
        fill/clip (max and percentiles of phi), the standardisation (mean/std of phi~) and
        the temperature's mean(phi~) are global statistics: each rank all-gathers its
        per-class scalars (phi, n_k, valid, seen: 4 numbers per class, once per refresh, never
        during a step), applies the same functions to the whole C-vector as one process
        would, and keeps its own rows. Results therefore equal the replicated memory's.
        """
        counts = self.window_counts
        seen = counts > 0
        if self.concentration_kind == "rms":
            phi = concentration_rms(self.window_sums, counts, self.alpha)
        else:
            phi = concentration_mean_distance(self.window_distance_sums, counts, self.alpha)
        phi = torch.where(seen, phi, self.concentration)
        valid = seen | self.has_concentration
        # carry over old values for classes absent from this window; n = 2 keeps them out of
        # the "n_k <= 1 -> max phi" rule.
        effective_counts = torch.where(seen, counts, torch.full_like(counts, 2))
        all_phi, all_counts, all_valid, all_seen = phi, effective_counts, valid, seen
        if partition is not None and partition.distributed:
            scalars = torch.stack([phi.double(), effective_counts.double(), valid.double(), seen.double()], dim=1)
            gathered = partition.all_gather_rows(scalars)
            all_phi, all_counts = gathered[:, 0].to(phi.dtype), gathered[:, 1].to(counts.dtype)
            all_valid, all_seen = gathered[:, 2] > 0, gathered[:, 3] > 0
        if not bool(all_seen.any()):
            return
        clipped = fill_and_clip(all_phi, all_counts, all_valid, self.clip_percentiles)
        all_concentration = torch.where(all_valid, clipped, all_phi)  # = old phi~ where not valid
        all_margins = cluster_guided_margins(
            all_concentration, all_valid, self.base_margin, self.margin_delta, self.margin_beta
        )
        all_temperatures = adaptive_temperatures(all_concentration, all_valid, self.base_temperature)
        if partition is not None and partition.distributed:
            own = slice(partition.start, partition.stop)
            clipped, all_margins, all_temperatures = clipped[own], all_margins[own], all_temperatures[own]
        self.concentration.copy_(torch.where(valid, clipped, self.concentration))
        self.has_concentration.copy_(valid)
        new_margins = all_margins
        rho = self.margin_smoothing
        self.margins.copy_(rho * self.margins + (1.0 - rho) * new_margins if rho > 0 else new_margins)
        self.temperatures.copy_(all_temperatures)
        self.reset_window()

    @torch.no_grad()
    def reset_window(self) -> None:
        """Zero the window's running sums and counts."""
        self.window_sums.zero_()
        self.window_counts.zero_()
        self.window_distance_sums.zero_()

    def stats(self) -> dict[str, float]:
        """Summary of the per-class state over known classes, for logging."""
        known = self.known
        out = {"known_classes": float(known.sum()), "window_samples": float(self.window_counts.sum())}
        if bool(known.any()):
            m, t = self.margins[known], self.temperatures[known]
            out.update(
                margin_mean=float(m.mean()),
                margin_min=float(m.min()),
                margin_max=float(m.max()),
                temperature_mean=float(t.mean()),
                temperature_min=float(t.min()),
                temperature_max=float(t.max()),
            )
        if bool(self.has_concentration.any()):
            phi = self.concentration[self.has_concentration]
            out.update(concentration_mean=float(phi.mean()), concentration_std=float(phi.std(unbiased=False)))
        return out

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, dim={self.dim}, centre_momentum={self.centre_momentum}, "
            f"concentration={self.concentration_kind}"
        )
