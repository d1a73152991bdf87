"""The joint objective: CG-ArcFace + lambda_scc SCC + lambda_align align (docs/method.md, Total loss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from clusterface.heads.cluster_guided_margin import ClusterGuidedMargin
from clusterface.heads.cosine_classifier import CosineClassifier
from clusterface.losses.align_loss import ClusterAlignLoss
from clusterface.losses.negative_sampling import sample_classes
from clusterface.losses.scc_loss import SCCLoss
from clusterface.memory.class_centre_memory import ClassCentreMemory


class JointObjective(nn.Module):
    """L = L_cls + lambda_scc L_scc + lambda_align L_align, with a warm-up of plain ArcFace.

    Collaborators are passed in: the classifier (which holds W and its margin), the
    class-centre memory (all other per-class state; None when nothing needs it), and the
    SCC / align losses (None = switched off). ``set_progress(epoch)`` switches the warm-up:
    before ``warmup_epochs`` the margin is m0 for every class (Delta = 0), the lambdas are 0
    and the memory only accumulates.

    ``forward(embeddings (B, d), labels (B,), momentum_embeddings (B, d) | None)`` returns
    {"loss": total with grad, "cls", "scc", "align": detached parts}. The momentum
    embeddings are not needed by the loss itself (centres come from the memory, which the
    trainer updates with ``update_memory`` after the optimiser step); they are checked for
    shape and otherwise ignored.
    """

    sharded = False  # replicated: every rank holds all C classes (ClassObjective)

    def __init__(
        self,
        classifier: CosineClassifier,
        memory: ClassCentreMemory | None = None,
        scc: SCCLoss | None = None,
        align: ClusterAlignLoss | None = None,
        lambda_scc: float = 1.0,
        lambda_align: float = 1.0,
        warmup_epochs: float = 0.0,
        num_negatives: int | None = None,
        use_momentum_encoder: bool = True,
        momentum_every_steps: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if (scc is not None or align is not None or isinstance(classifier.margin, ClusterGuidedMargin)) and (
            memory is None
        ):
            raise ValueError("SCC, align and the cluster-guided margin need a ClassCentreMemory")
        self.classifier = classifier
        self.memory = memory
        self.scc = scc
        self.align = align
        self.lambda_scc = float(lambda_scc)
        self.lambda_align = float(lambda_align)
        self.warmup_epochs = float(warmup_epochs)
        self.num_negatives = num_negatives
        self.use_momentum_encoder = use_momentum_encoder
        self.momentum_every_steps = int(momentum_every_steps)
        # Negative sampling draws from its own generator: every rank holds the same seed and
        # makes the same draws, so replicated objectives pick the same columns (docs/method.md, Scale).
        self.sampling_generator = torch.Generator().manual_seed(seed)
        self.epoch = 0.0
        self.set_progress(0.0)

    @property
    def in_warmup(self) -> bool:
        return self.epoch < self.warmup_epochs

    def set_progress(self, epoch: float) -> None:
        """Current (fractional) epoch: drives the warm-up switch."""
        self.epoch = float(epoch)
        warm = self.in_warmup
        if isinstance(self.classifier.margin, ClusterGuidedMargin):
            self.classifier.margin.enabled = not warm
        if self.memory is not None:
            self.memory.accumulate_only = warm

    def wants_momentum(self, step: int) -> bool:
        """Whether the trainer should run the momentum encoder at optimiser step ``step``.

        True every ``momentum_every_steps`` steps (1 = every step, the method's default);
        on other steps the trainer passes None and skips ``update_memory``.
        """
        return self.use_momentum_encoder and step % self.momentum_every_steps == 0

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, momentum_embeddings: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        if momentum_embeddings is not None and momentum_embeddings.shape != embeddings.shape:
            raise ValueError(
                f"momentum_embeddings {tuple(momentum_embeddings.shape)} != embeddings {tuple(embeddings.shape)}"
            )
        columns = None
        if self.num_negatives is not None:
            columns = sample_classes(
                labels.cpu(), self.classifier.num_classes, self.num_negatives, self.sampling_generator
            ).to(labels.device)
        logits = self.classifier(embeddings, labels, columns)
        target = labels if columns is None else torch.searchsorted(columns, labels)
        cls = F.cross_entropy(logits, target)
        zero = cls.new_zeros(())
        scc, align = zero, zero
        loss = cls
        if not self.in_warmup and self.memory is not None:
            if self.scc is not None and self.lambda_scc > 0:
                mem = self.memory
                scc = self.scc(embeddings, labels, mem.centres, mem.temperatures, mem.known, columns)
                loss = loss + self.lambda_scc * scc
            if self.align is not None and self.lambda_align > 0:
                align = self.align(self.classifier.weight, labels, self.memory.centres, self.memory.known)
                loss = loss + self.lambda_align * align
        return {"loss": loss, "cls": cls.detach(), "scc": scc.detach(), "align": align.detach()}

    @torch.no_grad()
    def update_memory(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Add the step's momentum (or detached online) features (B, d) to the memory."""
        if self.memory is not None:
            self.memory.update(features, labels)

    @torch.no_grad()
    def refresh_concentration(self) -> None:
        """Recompute phi, margins and temperatures from the window; reset the window."""
        if self.memory is not None:
            self.memory.refresh()

    def stats(self) -> dict[str, float]:
        """margin_mean/min/max, concentration_mean, temperature_mean, known_classes, warmup."""
        out: dict[str, float] = {"warmup": float(self.in_warmup)}
        margin = self.classifier.margin
        if self.memory is not None:
            out.update(self.memory.stats())
        if not isinstance(margin, ClusterGuidedMargin) or not margin.enabled:
            base = float(getattr(margin, "base_margin", getattr(margin, "margin", float("nan"))))
            out.update(margin_mean=base, margin_min=base, margin_max=base)
        if self.scc is not None and (not self.scc.adaptive or self.in_warmup):
            tau = self.scc.temperature  # the temperature actually in use
            out.update(temperature_mean=tau, temperature_min=tau, temperature_max=tau)
        return out

    # ------------------------------------------------- ClassObjective: world-size-independent state
    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """All per-class state as full (C, ...) tensors: here simply the state dict."""
        return dict(self.state_dict())

    def load_full_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load a full state, replicated or saved by a class-sharded run (its extra keys are dropped)."""
        self.load_state_dict({k: v for k, v in state.items() if k not in SHARDED_ONLY_KEYS})

    def gather_rows(self, local: torch.Tensor) -> torch.Tensor | None:
        return local

    def shard_rows(self, full: torch.Tensor) -> torch.Tensor:
        return full


# Keys that only a class-sharded objective writes (its sampling stream's step counter).
SHARDED_ONLY_KEYS = frozenset({"sampling_step"})
