"""One optimisation step: forward (AMP), gather the global batch, objective in float32, backward, clip, step."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from clusterface.losses.class_objective import is_sharded
from clusterface.models.preprocess import normalize_images
from clusterface.training.distributed import DistContext, all_gather_tensor, all_gather_with_grad, all_reduce_max

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class StepOutput:
    """What one step produced: loss parts (floats), whether it was applied, gradient and embedding norms."""

    parts: dict[str, float]
    applied: bool
    grad_norm: float
    embedding_norm: float


def prepare_images(
    images: torch.Tensor, flip: torch.Tensor | None, device: torch.device, channels_last: bool
) -> torch.Tensor:
    """uint8 (b,3,H,W) -> normalised float on ``device``, horizontally flipped where ``flip`` (b,) is True."""
    x = normalize_images(images.to(device, non_blocking=True))
    if flip is not None and bool(flip.any()):
        flip = flip.to(device)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


class TrainStep:
    """Runs steps on given modules; holds no data pipeline and no schedule of its own.

    ``model`` is the backbone as called (possibly wrapped in DDP); ``objective`` the joint
    objective (replicated on every rank; its gradients are averaged over ranks so its weights stay
    identical); ``momentum_encoder`` an optional EMA copy with ``update(model)``. Under DDP the
    ranks' embeddings are all-gathered (with gradient) so the objective sees the global batch:
    the result equals a single process on that batch (up to float summation order).
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        raw_model: nn.Module,
        objective: nn.Module,
        momentum_encoder: Any | None,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        ctx: DistContext,
        amp: str = "off",
        grad_clip: float | None = None,
        channels_last: bool = False,
    ):
        self.model, self.raw_model, self.objective = model, raw_model, objective
        self.momentum_encoder = momentum_encoder
        self.optimizer, self.scheduler, self.ctx = optimizer, scheduler, ctx
        self.grad_clip, self.channels_last = grad_clip, channels_last
        if amp == "fp16" and ctx.device.type != "cuda":
            raise ValueError("runtime.amp=fp16 needs a GPU; use bf16 (or off) on CPU")
        self.amp_dtype = AMP_DTYPES.get(amp)
        self.scaler = torch.amp.GradScaler(ctx.device.type) if amp == "fp16" else None
        self.params = [p for m in (raw_model, objective) for p in m.parameters() if p.requires_grad]
        # A class-sharded objective's parameters (W rows) belong to one rank each: never averaged.
        self.sharded = is_sharded(objective)
        if self.sharded and amp == "fp16":
            # GradScaler skips a step when *its* gradients overflow: with W split by class the ranks
            # would disagree and drift apart
            raise ValueError("objective.sharding=classes needs runtime.amp=bf16 or off (fp16's scaler is per rank)")
        self.sharded_params = [p for p in objective.parameters() if p.requires_grad] if self.sharded else []
        self.replicated_params = [p for p in raw_model.parameters() if p.requires_grad] if self.sharded else []

    def _autocast(self) -> Any:
        return torch.autocast(
            self.ctx.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None
        )

    def _sync_objective_grads(self) -> None:
        if not self.ctx.distributed or self.sharded:
            return
        grads = [p.grad for p in self.objective.parameters() if p.grad is not None]
        if grads:
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            flat /= self.ctx.world_size
            offset = 0
            for g in grads:
                g.copy_(flat[offset : offset + g.numel()].view_as(g))
                offset += g.numel()

    def _clip(self, max_norm: float) -> float:
        """Clip all gradients to a global norm; returns the norm before clipping.

        Sharded: the norm of W's gradient is the sum over ranks of each shard's squared norm (one
        scalar all-reduce); the backbone's gradients are already identical on every rank.
        """
        if not self.sharded:
            return float(torch.nn.utils.clip_grad_norm_(self.params, max_norm))
        grads = [p.grad for p in self.replicated_params if p.grad is not None]
        shard = [p.grad for p in self.sharded_params if p.grad is not None]
        device = self.ctx.device
        replicated_sq = torch.nn.utils.get_total_norm(grads).pow(2) if grads else torch.zeros((), device=device)
        shard_sq = torch.nn.utils.get_total_norm(shard).pow(2) if shard else torch.zeros((), device=device)
        if self.ctx.distributed:
            shard_sq = shard_sq.to(torch.float64)
            dist.all_reduce(shard_sq)
        total = torch.sqrt(replicated_sq.double() + shard_sq.double()).float()
        torch.nn.utils.clip_grads_with_norm_(self.params, max_norm, total)
        return float(total)

    def _wants_momentum(self, step: int) -> bool:
        if self.momentum_encoder is None:
            return False
        wants = getattr(self.objective, "wants_momentum", None)
        return bool(wants(step)) if callable(wants) else True

    def __call__(
        self, images: torch.Tensor, labels: torch.Tensor, flip: torch.Tensor | None = None, step: int = 0
    ) -> StepOutput:
        """Run optimiser step ``step`` (0-based global index) on this rank's batch (uint8 images, labels)."""
        ctx = self.ctx
        x = prepare_images(images, flip, ctx.device, self.channels_last)
        labels = labels.to(ctx.device, non_blocking=True).long()
        self.optimizer.zero_grad(set_to_none=True)
        run_momentum = self._wants_momentum(step)
        with self._autocast():
            embeddings = self.model(x)
            momentum = self.momentum_encoder(x).float() if run_momentum and self.momentum_encoder else None
        embeddings = all_gather_with_grad(embeddings.float(), ctx, sum_gradients=self.sharded)
        all_labels = all_gather_tensor(labels, ctx)
        if momentum is not None:
            momentum = all_gather_tensor(momentum, ctx)
        # The margin, softmax and memory work in float32 whatever the backbone ran in.
        with torch.autocast(ctx.device.type, enabled=False):
            parts = self.objective(embeddings, all_labels, momentum)
        loss = parts["loss"]
        loss_finite = all_reduce_max(0.0 if bool(torch.isfinite(loss.detach())) else 1.0, ctx) == 0.0
        # Backward always runs (DDP expects it on every rank); a bad step's gradients are discarded.
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        self._sync_objective_grads()
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        max_norm = self.grad_clip if self.grad_clip is not None else math.inf
        grad_norm = self._clip(max_norm)
        # fp16: inf/nan gradients with a finite loss are the scaler's business (it skips and rescales).
        applied = loss_finite and (self.scaler is not None or math.isfinite(grad_norm))
        if applied:
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
            else:
                self.optimizer.step()
            if self.momentum_encoder is not None:
                self.momentum_encoder.update(self.raw_model)
            # Memory features: the momentum encoder's when it ran this step; the detached online
            # embeddings when there is no momentum encoder; none on steps the objective skips it.
            if self.momentum_encoder is None or momentum is not None:
                features = momentum if momentum is not None else embeddings.detach()
                self.objective.update_memory(features, all_labels)  # type: ignore[operator]
        else:
            self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.update()
        self.scheduler.step()
        values = {k: float(v.detach()) for k, v in parts.items() if torch.is_tensor(v) and v.numel() == 1}
        return StepOutput(values, applied, grad_norm, float(embeddings.detach().norm(dim=1).mean()))
