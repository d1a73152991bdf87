"""The joint objective with its classes split across ranks (model-parallel head, Partial FC).

Rank r holds rows [start, stop) of every per-class tensor (W, centres, window sums and counts,
phi, m, tau, known) and computes logits for those classes only; the softmaxes of the
classification and SCC terms are distributed (global max, global sum of exponentials, target
logit from the owning rank: ``sharded_cross_entropy``), so the loss and every gradient equal one
process holding all classes. Per step only B-sized vectors and a few scalars cross ranks; the
embeddings, labels and momentum features of the global batch are all-gathered by the trainer
(``training.step``), which also sums the embedding gradients over ranks.
"""

from __future__ import annotations

import math

import torch

from clusterface.heads.cluster_guided_margin import ClusterGuidedMargin
from clusterface.heads.cosine_classifier import CosineClassifier, row_normalised_cosine
from clusterface.losses.align_loss import ClusterAlignLoss
from clusterface.losses.joint_objective import SHARDED_ONLY_KEYS, JointObjective
from clusterface.losses.negative_sampling import sample_classes
from clusterface.losses.scc_loss import MASKED_LOGIT, SCCLoss
from clusterface.losses.sharded_softmax import sharded_cross_entropy
from clusterface.memory.class_centre_memory import ClassCentreMemory
from clusterface.memory.class_partition import ClassPartition
from clusterface.ops import at_least_float32, l2_normalize


class ShardedJointObjective(JointObjective):
    """``JointObjective`` over this rank's classes (``partition``); same keys, same losses, same gradients.

    ``classifier`` and ``memory`` hold ``partition.size`` rows. ``sample_rate`` < 1 is Partial FC:
    each step this rank keeps every class of the global batch that it owns plus a random
    ceil(sample_rate * C_r)-sized draw of the rest (``sample_classes``), from a generator seeded
    by (seed, rank, step counter); the counter is saved as ``sampling_step``, so a resumed run
    draws the same columns. The same columns serve the classification and SCC logits.
    """

    sharded = True

    def __init__(
        self,
        classifier: CosineClassifier,
        memory: ClassCentreMemory | None,
        partition: ClassPartition,
        scc: SCCLoss | None = None,
        align: ClusterAlignLoss | None = None,
        sample_rate: float = 1.0,
        **kwargs: float | int | bool | None,
    ) -> None:
        super().__init__(classifier, memory, scc, align, **kwargs)  # type: ignore[arg-type]
        if classifier.num_classes != partition.size:
            raise ValueError(f"classifier has {classifier.num_classes} rows, rank owns {partition.size} classes")
        if not 0.0 < sample_rate <= 1.0:
            raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate}")
        self.partition = partition
        self.sample_rate = float(sample_rate)
        self.seed = int(kwargs.get("seed") or 0)
        self.sampling_step = 0

    # ------------------------------------------------------------------ forward
    def _owned(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) global labels -> (owned (B,) bool, local class id (B,), clamped into range where not owned)."""
        p = self.partition
        owned = (labels >= p.start) & (labels < p.stop)
        return owned, (labels - p.start).clamp(0, p.size - 1)

    def _columns(self, local: torch.Tensor, owned: torch.Tensor) -> torch.Tensor | None:
        """Sorted (K_r,) local class ids of this step (Partial FC), or None for all."""
        if self.sample_rate >= 1.0:
            return None
        mix = ((self.seed * 1_000_003 + self.partition.rank) * 2_147_483_647 + self.sampling_step) % (2**63)
        generator = torch.Generator().manual_seed(mix)
        positives = local[owned].cpu()  # the rank's positives of the global batch (one host sync)
        wanted = math.ceil(self.sample_rate * self.partition.size)
        return sample_classes(positives, self.partition.size, wanted, generator).to(local.device)

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, momentum_embeddings: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Global batch (B, d), (B,) -> the same parts as ``JointObjective`` (values equal on every rank).

        "loss" carries the gradient of this rank's share: the distributed softmaxes give each rank
        the gradient of its own columns, and the align term's value is the global one while its
        gradient is this rank's (it reaches only this rank's W rows).
        """
        if momentum_embeddings is not None and momentum_embeddings.shape != embeddings.shape:
            raise ValueError(
                f"momentum_embeddings {tuple(momentum_embeddings.shape)} != embeddings {tuple(embeddings.shape)}"
            )
        p = self.partition
        owned, local = self._owned(labels)
        columns = self._columns(local, owned)
        self.sampling_step += 1
        target = local if columns is None else torch.searchsorted(columns, local).clamp_max(columns.numel() - 1)
        weight = self.classifier.weight if columns is None else self.classifier.weight.index_select(0, columns)
        with torch.autocast(embeddings.device.type, enabled=False):
            cos = row_normalised_cosine(embeddings, weight)  # (B, K_r)
            index = target.unsqueeze(1)
            cos_target = cos.gather(1, index).squeeze(1)
            # the margin on the targets this rank owns; other rows keep their cosine
            modified = torch.where(owned, self.classifier.margin.target_cosine(cos_target, local), cos_target)
            logits = cos.scatter(1, index, modified.unsqueeze(1).to(cos.dtype)) * self.classifier.scale
            cls = sharded_cross_entropy(logits, target, owned, p).mean()
            zero = cls.new_zeros(())
            scc, align = zero, zero
            loss = cls
            if not self.in_warmup and self.memory is not None:
                if self.scc is not None and self.lambda_scc > 0:
                    scc = self._scc(embeddings, target, local, owned, columns)
                    loss = loss + self.lambda_scc * scc
                if self.align is not None and self.lambda_align > 0:
                    align = self._align(labels, local, owned)
                    loss = loss + self.lambda_align * align
        return {"loss": loss, "cls": cls.detach(), "scc": scc.detach(), "align": align.detach()}

    def _scc(
        self,
        embeddings: torch.Tensor,
        target: torch.Tensor,
        local: torch.Tensor,
        owned: torch.Tensor,
        columns: torch.Tensor | None,
    ) -> torch.Tensor:
        """SCC over this rank's centres with their tau, softmax over all ranks' (as ``SCCLoss``)."""
        assert self.memory is not None and self.scc is not None
        mem = self.memory
        centres, temperatures, known = mem.centres, mem.temperatures, mem.known
        if columns is not None:
            centres, temperatures, known = centres[columns], temperatures[columns], known[columns]
        x = l2_normalize(at_least_float32(embeddings))
        logits = x @ centres.detach().to(x.dtype).t()
        if self.scc.adaptive:
            logits = logits / temperatures.detach().to(x.dtype).unsqueeze(0)
        else:
            logits = logits / self.scc.temperature
        logits = logits.masked_fill(~known.unsqueeze(0), MASKED_LOGIT)
        per_sample = sharded_cross_entropy(logits, target, owned, self.partition)
        # a sample counts when its own class has a centre; only the owner knows: sum over ranks
        keep = (owned & mem.known.index_select(0, local)).to(per_sample.dtype)
        self.partition.all_reduce(keep, "sum")
        return (per_sample * keep).sum() / keep.sum().clamp_min(1.0)

    def _align(self, labels: torch.Tensor, local: torch.Tensor, owned: torch.Tensor) -> torch.Tensor:
        """L_align over this rank's classes of the batch, normalised by the global |U_B|."""
        assert self.memory is not None
        mem = self.memory
        w = l2_normalize(at_least_float32(self.classifier.weight.index_select(0, local)))
        c = mem.centres.index_select(0, local).detach().to(w.dtype)
        per_class_count = (labels.unsqueeze(0) == labels.unsqueeze(1)).sum(dim=1).to(w.dtype)
        share = (owned & mem.known.index_select(0, local)).to(w.dtype) / per_class_count
        totals = torch.stack([share.sum(), torch.zeros((), dtype=w.dtype, device=w.device)])
        mine = ((1.0 - (w * c).sum(dim=1)) * share).sum()
        totals[1] = mine.detach()
        self.partition.all_reduce(totals, "sum")  # [|U_B| over all ranks, sum of all ranks' terms]
        denominator = totals[0].clamp_min(1.0)
        partial = mine / denominator
        # value: the global L_align; gradient: this rank's rows of W only
        return partial + (totals[1] / denominator - partial).detach()

    # ------------------------------------------------------------------ memory
    @torch.no_grad()
    def update_memory(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Add the global batch's features (B, d) to the rows of this rank's classes."""
        if self.memory is None:
            return
        owned, local = self._owned(labels)
        rows = owned.nonzero().squeeze(1)
        if rows.numel() > 0:
            self.memory.update(features.index_select(0, rows), local.index_select(0, rows))

    @torch.no_grad()
    def refresh_concentration(self) -> None:
        """Concentration refresh of this rank's classes with global statistics (collective)."""
        if self.memory is not None:
            self.memory.refresh(self.partition)

    def stats(self) -> dict[str, float]:
        """Same scalars as ``JointObjective.stats`` over all classes: two all-reduces of 7 and 4 numbers."""
        out: dict[str, float] = {"warmup": float(self.in_warmup)}
        margin = self.classifier.margin
        if self.memory is not None:
            mem = self.memory
            known, has_phi = mem.known, mem.has_concentration
            m, t, phi = mem.margins[known].double(), mem.temperatures[known].double(), mem.concentration[has_phi]
            phi = phi.double()
            sums = torch.stack(
                [
                    known.sum().double(),
                    mem.window_counts.sum().double(),
                    m.sum(),
                    t.sum(),
                    has_phi.sum().double(),
                    phi.sum(),
                    (phi * phi).sum(),
                ]
            )
            inf = torch.tensor(math.inf, dtype=torch.float64)
            extremes = torch.stack(
                [
                    m.max() if m.numel() else -inf,
                    -m.min() if m.numel() else -inf,
                    t.max() if t.numel() else -inf,
                    -t.min() if t.numel() else -inf,
                ]
            )
            self.partition.all_reduce(sums, "sum")
            self.partition.all_reduce(extremes, "max")
            n_known, n_phi = float(sums[0]), float(sums[4])
            out.update(known_classes=n_known, window_samples=float(sums[1]))
            if n_known > 0:
                out.update(
                    margin_mean=float(sums[2]) / n_known,
                    margin_min=-float(extremes[1]),
                    margin_max=float(extremes[0]),
                    temperature_mean=float(sums[3]) / n_known,
                    temperature_min=-float(extremes[3]),
                    temperature_max=float(extremes[2]),
                )
            if n_phi > 0:
                mean = float(sums[5]) / n_phi
                out.update(
                    concentration_mean=mean, concentration_std=math.sqrt(max(float(sums[6]) / n_phi - mean**2, 0.0))
                )
        if not isinstance(margin, ClusterGuidedMargin) or not margin.enabled:
            base = float(getattr(margin, "base_margin", getattr(margin, "margin", float("nan"))))
            out.update(margin_mean=base, margin_min=base, margin_max=base)
        if self.scc is not None and (not self.scc.adaptive or self.in_warmup):
            tau = self.scc.temperature
            out.update(temperature_mean=tau, temperature_min=tau, temperature_max=tau)
        return out

    # ------------------------------------------------- ClassObjective: world-size-independent state
    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """Every per-class tensor gathered to rank 0 as full (C, ...) (collective; others get {}).

        Same keys as the replicated objective plus ``sampling_step``; called at checkpoint time only.
        """
        out: dict[str, torch.Tensor] = {}
        for key, value in self.state_dict().items():
            full = self.partition.gather_rows_to_main(value)
            if full is not None:
                out[key] = full
        if self.partition.rank == 0:
            out["sampling_step"] = torch.tensor(self.sampling_step, dtype=torch.int64)
        return out

    def load_full_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Keep this rank's rows of a full state (from a replicated or sharded run at any world size)."""
        own = {k: self.partition.own_rows(v) for k, v in state.items() if k not in SHARDED_ONLY_KEYS}
        self.load_state_dict(own)
        self.sampling_step = int(state["sampling_step"]) if "sampling_step" in state else 0

    def gather_rows(self, local: torch.Tensor) -> torch.Tensor | None:
        return self.partition.gather_rows_to_main(local)

    def shard_rows(self, full: torch.Tensor) -> torch.Tensor:
        return self.partition.own_rows(full)

    def extra_repr(self) -> str:
        p = self.partition
        return (
            f"classes=[{p.start}, {p.stop}) of {p.num_classes}, rank={p.rank}/{p.world_size}, "
            f"sample_rate={self.sample_rate}"
        )
