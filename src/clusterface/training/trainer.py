"""``train()``: the training loop for CPU and GPU, single process or DDP under torchrun.

The loop only sequences the parts: data (``sampler``), one step (``step``), schedule
(``optim``), checkpoints and resume (``checkpoint``, ``rng``), non-finite handling
(``nonfinite``), signals (``signals``) and progress (``progress``).
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from clusterface.checkpoint import CheckpointError, check_state_fits, load_checkpoint
from clusterface.config import Config, ConfigError, config_to_dict, save_config
from clusterface.data.output_lock import OutputLock, OutputLockedError
from clusterface.losses.class_objective import is_sharded
from clusterface.training.checkpoint import CheckpointRotation
from clusterface.training.distributed import (
    DistContext,
    LostRankError,
    all_reduce_max,
    current_context,
    describe_lost_ranks,
    is_communication_error,
    mark_alive,
)
from clusterface.training.nonfinite import NonFiniteGuard, NonFiniteLossError
from clusterface.training.optim import build_optimizer, build_scheduler
from clusterface.training.progress import TrainLogger
from clusterface.training.rng import capture_rng_state, restore_rng_state, seed_everything
from clusterface.training.sampler import ResumableDistributedBatchSampler
from clusterface.training.sharded_state import (
    load_objective_full_state,
    load_optimizer_full_state,
    objective_full_state,
    objective_state_to_check,
    optimizer_full_state,
)
from clusterface.training.signals import EXIT_CODES, GracefulInterrupt
from clusterface.training.step import StepOutput, TrainStep

EvaluateFn = Callable[[nn.Module], dict[str, float]]
ObjectiveFactory = Callable[[Config, int], nn.Module]  # (cfg, num_classes) -> objective, as build_objective


@dataclass
class TrainResult:
    """How a run ended and what it produced."""

    out_dir: Path | None
    status: str  # "completed" | "max_steps" | "interrupted"
    global_step: int
    epoch: float
    losses: list[float] = field(default_factory=list)  # loss of every step run by this call
    nonfinite_steps: int = 0
    last_checkpoint: Path | None = None
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    images_per_s: float = 0.0
    data_wait_fraction: float = 0.0
    signal: int | None = None
    step_timings: list[tuple[float, float]] = field(default_factory=list)  # (data wait s, step total s) per step

    @property
    def exit_code(self) -> int:
        """0, or 128 + signal number when stopped by SIGINT (130) / SIGTERM (143) after checkpointing."""
        return EXIT_CODES.get(self.signal, 128 + self.signal) if self.signal is not None else 0  # type: ignore[call-overload]


@dataclass
class Throughput:
    """Images, data-wait seconds and step seconds accumulated over some steps."""

    images: float = 0.0
    wait: float = 0.0
    time: float = 0.0

    def add(self, images: int, wait: float, time: float) -> None:
        self.images += images
        self.wait += wait
        self.time += time

    @property
    def images_per_s(self) -> float:
        return self.images / max(self.time, 1e-9)

    @property
    def wait_fraction(self) -> float:
        return self.wait / max(self.time, 1e-9)


@dataclass
class RunState:
    """What one ``Trainer.run`` call accumulates: per-step losses and timings, throughput, how it stopped."""

    losses: list[float] = field(default_factory=list)
    timings: list[tuple[float, float]] = field(default_factory=list)
    status: str = "completed"  # "completed" | "max_steps" | "interrupted"
    signum: int | None = None
    last_checkpoint: Path | None = None
    window: Throughput = field(default_factory=Throughput)  # since the last log line
    total: Throughput = field(default_factory=Throughput)


class TrainingDataError(ValueError):
    """A training set that cannot train a model (e.g. a single identity); the message says why."""


def num_classes_of(dataset: Dataset) -> int:
    """``dataset.num_classes``, or 1 + the largest of ``dataset.labels``."""
    n = getattr(dataset, "num_classes", None)
    if n is not None:
        return int(n)
    labels = getattr(dataset, "labels", None)
    if labels is None:
        raise ValueError("the training set needs .num_classes or .labels")
    return int(np.max(labels)) + 1


def flip_mask(seed: int, global_step: int, global_batch: int, ctx: DistContext) -> torch.Tensor:
    """This rank's rows of the step's horizontal-flip draw (a function of seed and step: resumable)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + global_step)
    mask = torch.rand(global_batch, generator=g) < 0.5
    b = global_batch // ctx.world_size
    return mask[ctx.rank * b : (ctx.rank + 1) * b]


def with_sync_batchnorm(model: nn.Module, ctx: DistContext) -> nn.Module:
    """``runtime.sync_bn``: BatchNorm layers -> SyncBatchNorm (statistics over the global batch under DDP).

    SyncBatchNorm runs on CUDA (NCCL) only: on CPU this refuses with the fix. In one process it is
    plain BatchNorm, so it is allowed there with a warning.
    """
    if ctx.device.type != "cuda":
        raise ValueError(
            "runtime.sync_bn=true needs CUDA GPUs (SyncBatchNorm has no CPU/gloo implementation); "
            "set runtime.sync_bn=false for CPU training"
        )
    if not ctx.distributed:
        warnings.warn("runtime.sync_bn has no effect in a single process (plain BatchNorm)", stacklevel=2)
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


class Trainer:
    """Builds the parts of a run from ``cfg`` (or takes them), runs epochs, saves and resumes state."""

    def __init__(
        self,
        cfg: Config,
        train_set: Dataset,
        *,
        evaluate_fn: EvaluateFn | None = None,
        out_dir: str | Path | None = None,
        progress: bool = True,
        model: nn.Module | None = None,
        objective_factory: ObjectiveFactory | None = None,
    ):
        self.cfg, self.train_set, self.evaluate_fn = cfg, train_set, evaluate_fn
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.ctx = ctx = current_context(cfg.runtime.device)
        seed_everything(cfg.runtime.seed)  # identical initial weights on every rank
        # Built in this order after seeding (backbone, objective; the momentum encoder copies the backbone
        # below, once the steps per epoch are known): runs are reproducible.
        self.model = self._build_model(model)
        self.objective = self._build_objective(objective_factory)
        self.ddp_model: nn.Module = self.model
        if ctx.distributed:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            # Buffers (BN running stats) follow rank 0 at every forward (DDP's default), so the
            # replicas and their momentum encoders stay identical.
            self.ddp_model = DistributedDataParallel(self.model, device_ids=ids)
        self.sampler, self.loader_generator, self.loader = self._build_loader()
        self.steps_per_epoch = self.sampler.steps_per_epoch
        self.momentum_encoder, self.encoder_momentum, self.momentum_restart_step = self._build_momentum_encoder()
        self.optimizer = build_optimizer([self.model, self.objective], cfg.optim)
        self.scheduler = build_scheduler(self.optimizer, cfg.schedule, self.steps_per_epoch)
        self.step_fn = TrainStep(
            model=self.ddp_model,
            raw_model=self.model,
            objective=self.objective,
            momentum_encoder=self.momentum_encoder,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            ctx=ctx,
            amp=cfg.runtime.amp,
            grad_clip=cfg.optim.grad_clip,
            channels_last=cfg.model.channels_last,
        )
        self.guard = NonFiniteGuard(cfg.runtime.max_consecutive_nonfinite)
        self.checkpoints = (
            CheckpointRotation(self.out_dir / "checkpoints", cfg.checkpoint.keep) if self.out_dir is not None else None
        )
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.total_steps = cfg.schedule.epochs * self.steps_per_epoch
        if cfg.schedule.max_steps is not None:
            self.total_steps = min(self.total_steps, cfg.schedule.max_steps)
        self.logger = TrainLogger(
            self.out_dir, self.total_steps, enabled=ctx.is_main, progress=progress, log_every=cfg.logging.every_steps
        )
        if self.momentum_encoder is not None:
            source = f"horizon {cfg.objective.momentum_horizon_epochs} epoch x {self.steps_per_epoch} steps/epoch"
            if cfg.objective.encoder_momentum is not None:
                source = "objective.encoder_momentum"
            restart = (
                f"; restarted from the online encoder after step {self.momentum_restart_step} (end of warm-up)"
                if self.momentum_restart_step is not None
                else ""
            )
            self.logger.message(f"momentum encoder: mu = {self.encoder_momentum:.6f} ({source}){restart}")

    # ----------------------------------------------------------------- parts
    def _build_model(self, model: nn.Module | None) -> nn.Module:
        """The backbone (``cfg.model`` unless given), on the run's device and memory format."""
        cfg = self.cfg
        if model is None:
            from clusterface.models import create_backbone

            model = create_backbone(
                cfg.model.backbone, embedding_dim=cfg.model.embedding_dim, dropout=cfg.model.dropout
            )
        if cfg.runtime.sync_bn:
            model = with_sync_batchnorm(model, self.ctx)
        memory_format = torch.channels_last if cfg.model.channels_last else torch.contiguous_format
        return model.to(self.ctx.device, memory_format=memory_format)  # type: ignore[call-overload]

    def _build_objective(self, factory: ObjectiveFactory | None) -> nn.Module:
        """The joint objective for the training set's classes (``build_objective`` unless given)."""
        if factory is None:
            from clusterface.losses import build_objective

            factory = build_objective
        num_classes = num_classes_of(self.train_set)
        if num_classes < 2:  # one class: the classifier is trivially right, the loss ~0, nothing is learned
            raise TrainingDataError(
                f"the training set has {num_classes} identit{'y' if num_classes == 1 else 'ies'}; training needs at "
                "least 2 (check data.path with `clusterface data scan`)"
            )
        return factory(self.cfg, num_classes).to(self.ctx.device)

    def _build_momentum_encoder(self) -> tuple[Any, float | None, int | None]:
        """(momentum encoder or None, its mu, the step after which it restarts from theta or None).

        mu follows the run's length (docs/method.md, Momentum encoder): from the EMA horizon in
        epochs and the steps per epoch of the global batch, unless given explicitly.
        """
        obj = self.cfg.objective
        if not obj.use_momentum_encoder:
            return None, None, None
        from clusterface.memory import MomentumEncoder, horizon_momentum, warmup_end_step

        mu = obj.encoder_momentum
        if mu is None:
            mu = horizon_momentum(obj.momentum_horizon_epochs, self.steps_per_epoch)
        restart = warmup_end_step(obj.warmup_epochs, self.steps_per_epoch) if obj.warmup_epochs > 0 else None
        return MomentumEncoder(self.model, mu), mu, restart

    def _build_loader(self) -> tuple[ResumableDistributedBatchSampler, torch.Generator, DataLoader]:
        """This rank's resumable batch sampler, the loader's generator (reseeded per epoch) and the loader."""
        cfg, ctx = self.cfg, self.ctx
        sampler = ResumableDistributedBatchSampler(
            len(self.train_set),  # type: ignore[arg-type]
            cfg.schedule.batch_size,
            rank=ctx.rank,
            world_size=ctx.world_size,
            seed=cfg.runtime.seed,
        )
        workers = cfg.data.workers
        generator = torch.Generator()
        loader = DataLoader(
            self.train_set,
            batch_sampler=sampler,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=ctx.device.type == "cuda",
            prefetch_factor=4 if workers > 0 else None,
            generator=generator,
        )
        return sampler, generator, loader

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Everything a mid-epoch resume needs, as tensors and plain values (``weights_only`` loads)."""
        state: dict[str, Any] = {
            "config": config_to_dict(self.cfg),
            "backbone": self.model.state_dict(),
            "objective": objective_full_state(self.objective),
            "optimizer": optimizer_full_state(self.optimizer, self.objective),
            "scheduler": self.scheduler.state_dict(),
            "position": {
                "epoch": self.epoch,
                "step_in_epoch": self.step_in_epoch,
                "global_step": self.global_step,
                "steps_per_epoch": self.steps_per_epoch,
                "global_batch": self.cfg.schedule.batch_size,
            },
            "nonfinite": self.guard.state_dict(),
            "rng": capture_rng_state(),
            "logger": {"history": self.logger.history, "evaluations": self.logger.evaluations},
        }
        if self.momentum_encoder is not None:
            state["momentum_encoder"] = self.momentum_encoder.state_dict()
        if self.step_fn.scaler is not None:
            state["grad_scaler"] = self.step_fn.scaler.state_dict()
        sampling = getattr(self.objective, "sampling_generator", None)
        # sampled negative centres (replicated): their own random stream; a sharded objective keeps
        # its own step counter in its state instead
        if isinstance(sampling, torch.Generator) and not is_sharded(self.objective):
            state["negative_sampling_rng"] = sampling.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pos = state["position"]
        if pos["global_batch"] != self.cfg.schedule.batch_size or pos["steps_per_epoch"] != self.steps_per_epoch:
            raise ConfigError(
                f"cannot resume: the checkpoint ran {pos['steps_per_epoch']} steps/epoch of global batch "
                f"{pos['global_batch']}, this run has {self.steps_per_epoch} of {self.cfg.schedule.batch_size}"
            )
        self.model.load_state_dict(state["backbone"])
        load_objective_full_state(self.objective, state["objective"])
        load_optimizer_full_state(self.optimizer, self.objective, state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.momentum_encoder is not None and "momentum_encoder" in state:
            self.momentum_encoder.load_state_dict(state["momentum_encoder"])
        if self.step_fn.scaler is not None and "grad_scaler" in state:
            self.step_fn.scaler.load_state_dict(state["grad_scaler"])
        self.guard.load_state_dict(state["nonfinite"])
        self.epoch, self.step_in_epoch = int(pos["epoch"]), int(pos["step_in_epoch"])
        self.global_step = int(pos["global_step"])
        self.logger.history = list(state.get("logger", {}).get("history", []))
        self.logger.evaluations = list(state.get("logger", {}).get("evaluations", []))
        restore_rng_state(state["rng"])
        sampling = getattr(self.objective, "sampling_generator", None)
        if isinstance(sampling, torch.Generator) and "negative_sampling_rng" in state:  # older ones lack it
            sampling.set_state(state["negative_sampling_rng"])

    def _newest_good_checkpoint(self) -> Path | None:
        """This run's newest usable checkpoint; says which newer ones it skipped and why."""
        assert self.checkpoints is not None
        found, skipped = self.checkpoints.newest_good()
        for bad, why in skipped:
            self.logger.message(f"skipping checkpoint {bad}: {why}")
        if found is None and skipped:  # never start over silently on top of checkpoints that exist
            raise CheckpointError(
                f"{self.checkpoints.directory}: none of its {len(skipped)} checkpoint(s) is usable "
                f"(newest: {skipped[0][0].name}: {skipped[0][1]}); move them away or pass --resume never"
            )
        return found

    def resume(self, path: str | Path) -> Path:
        """Load a training checkpoint (a file, or ``auto`` = this run's newest one). Returns the file."""
        if str(path) == "auto":
            if self.checkpoints is None:
                raise ConfigError("resume='auto' needs an out_dir")
            found = self._newest_good_checkpoint()
            if found is None:
                return Path()
            path = found
        state = load_checkpoint(path, map_location="cpu")  # modules copy to their device
        check_state_fits(path, "backbone", state["backbone"], self.model)
        fit = objective_state_to_check(self.objective, state["objective"])  # full tensors: this rank's rows
        check_state_fits(path, "objective (head, memory)", fit, self.objective)
        self.load_state_dict(state)
        self.logger.message(
            f"resumed from {path} at step {self.global_step} (epoch {self.epoch}, "
            f"step {self.step_in_epoch} of {self.steps_per_epoch})"
        )
        return Path(path)

    def save(self) -> Path | None:
        """Rank 0 writes the checkpoint; every rank waits for it.

        A class-sharded objective's state is gathered to rank 0 first (every rank takes part), so
        the file holds full per-class tensors and resumes at any world size.
        """
        path = None
        if self.checkpoints is not None and (self.ctx.is_main or is_sharded(self.objective)):
            state = self.state_dict()
            if self.ctx.is_main:
                path = self.checkpoints.save(state, self.global_step)
                # the history so far, readable while the run goes on (the checkpoint holds it too)
                self.logger.summary = {"status": "running", "global_step": self.global_step}
                self.logger.write_metrics()
        if self.ctx.distributed:
            dist.barrier()
        return path

    # ------------------------------------------------------------------ loop
    def _refresh_concentration(self) -> None:
        self.objective.refresh_concentration()  # type: ignore[operator]
        # replicated: memory updates are identical in exact arithmetic; pin them bit-exactly
        # (a sharded objective's ranks hold different classes)
        if self.ctx.distributed and not is_sharded(self.objective):
            for buffer in self.objective.buffers():
                dist.broadcast(buffer, src=0)

    def _evaluate(self) -> None:
        if self.evaluate_fn is None:
            return
        if self.ctx.is_main:
            self.model.eval()
            with torch.no_grad():
                results = self.evaluate_fn(self.model)
            self.model.train()
            self.logger.evaluation(self.global_step, float(self.global_step) / self.steps_per_epoch, results)
        if self.ctx.distributed:
            dist.barrier()

    def _scalars(self, out: StepOutput, window: Throughput) -> dict[str, float]:
        scalars = dict(out.parts)
        scalars["lr"] = self.optimizer.param_groups[0]["lr"]
        scalars["grad_norm"] = out.grad_norm
        scalars["embedding_norm"] = out.embedding_norm
        scalars["img_per_s"] = window.images_per_s
        scalars["data_wait"] = window.wait_fraction
        scalars["nonfinite_steps"] = float(self.guard.total)
        stats = getattr(self.objective, "stats", None)
        if callable(stats) and self.global_step % self.cfg.logging.every_steps == 0:
            scalars.update({k: float(v) for k, v in stats().items()})
        return scalars

    def run(self) -> TrainResult:
        """Train from the current position to the end (or ``max_steps``, or a signal)."""
        try:
            return self._run()
        except NonFiniteLossError as err:
            self.logger.summary = {"status": "aborted", "global_step": self.global_step, "error": str(err)}
            self.logger.message(str(err))
            raise
        except RuntimeError as err:
            if not (self.ctx.distributed and is_communication_error(err)) or isinstance(err, LostRankError):
                raise
            message = describe_lost_ranks(self.ctx, self.global_step + 1, err)
            self.logger.summary = {"status": "lost_rank", "global_step": self.global_step, "error": message}
            raise LostRankError(message) from err
        finally:
            if self.logger.summary.get("status") == "running":  # an exception ended the run
                error = repr(sys.exc_info()[1])
                self.logger.summary = {"status": "failed", "global_step": self.global_step, "error": error}
            self.logger.write_metrics()
            self.logger.close()

    def _run(self) -> TrainResult:
        cfg = self.cfg
        if self.out_dir is not None and self.ctx.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.out_dir / "config.yaml")
        self.model.train()
        self.objective.train()
        run = RunState()
        stop = self.global_step >= self.total_steps
        with GracefulInterrupt() as interrupt:
            while self.epoch < cfg.schedule.epochs and not stop:
                self._run_epoch(run, interrupt)
                stop = run.status != "completed"
        return self._finish(run)

    def _run_epoch(self, run: RunState, interrupt: GracefulInterrupt) -> None:
        """Steps from the current position until the epoch ends or the run stops.

        After each step, in this order: memory refresh, step record (loss, timings, log line),
        stop check (signal or max_steps), epoch advance, evaluation, checkpoint.
        """
        self.sampler.set_epoch(self.epoch, self.step_in_epoch)
        self.loader_generator.manual_seed(self.cfg.runtime.seed * 7919 + self.epoch)
        run.window = Throughput()
        batches = iter(self.loader)
        t_prev = time.perf_counter()
        while True:
            try:
                images, labels = next(batches)
            except RuntimeError:
                if interrupt.received is None or self.ctx.distributed:
                    raise
                # A signal sent to the whole process group (Ctrl-C, `kill -- -PGID`, a scheduler)
                # also reaches the loader workers, whose death surfaces here before the step
                # boundary: stop as if it had come between steps (the last step is complete).
                self._check_stop(run, interrupt)
                self._checkpoint_if_due(run, end_of_epoch=False)
                return
            t_data = time.perf_counter()
            mark_alive(self.ctx, self.global_step + 1)  # entering the step's collectives: see describe_lost_ranks
            out = self._step(images, labels)
            self._refresh_concentration_if_due()
            self._record_step(run, out, data_wait=t_data - t_prev, step_time=time.perf_counter() - t_prev)
            self._check_stop(run, interrupt)
            end_of_epoch = self._advance_epoch()
            # Evaluate before saving so a resumed run starts from the same state (RNG included).
            self._evaluate_if_due(end_of_epoch)
            self._checkpoint_if_due(run, end_of_epoch)
            if run.status != "completed" or end_of_epoch:
                return
            t_prev = time.perf_counter()

    def _step(self, images: torch.Tensor, labels: torch.Tensor) -> StepOutput:
        """One optimiser step at the current position; advances the step counters."""
        cfg = self.cfg
        self.objective.set_progress(self.epoch + self.step_in_epoch / self.steps_per_epoch)  # type: ignore[operator]
        flip = None
        if cfg.data.hflip:
            flip = flip_mask(cfg.runtime.seed, self.global_step, cfg.schedule.batch_size, self.ctx)
        out = self.step_fn(images, labels, flip, step=self.global_step)
        self.global_step += 1
        self.step_in_epoch += 1
        if self.global_step == self.momentum_restart_step:
            # xi <- theta after the last warm-up step. A function of the step alone, so a
            # run resumed after it never restarts again and one resumed before it does.
            self.momentum_encoder.restart(self.model)
        self.guard.record(out.applied, self.global_step)
        return out

    def _refresh_concentration_if_due(self) -> None:
        """Every ``memory.update_every_steps`` steps, or at the end of each epoch when that is None."""
        every = self.cfg.memory.update_every_steps
        if every is not None and self.global_step % every == 0:
            self._refresh_concentration()
        if every is None and self.step_in_epoch == self.steps_per_epoch:
            self._refresh_concentration()

    def _record_step(self, run: RunState, out: StepOutput, data_wait: float, step_time: float) -> None:
        """Loss, timings and throughput of the step; the log line / scalars (window reset every log interval)."""
        run.losses.append(out.parts.get("loss", float("nan")))
        run.timings.append((data_wait, step_time))
        for acc in (run.window, run.total):
            acc.add(self.cfg.schedule.batch_size, data_wait, step_time)
        epoch_f = self.epoch + self.step_in_epoch / self.steps_per_epoch
        self.logger.step(self.global_step, self._scalars(out, run.window), epoch_f)
        if self.global_step % self.cfg.logging.every_steps == 0:
            run.window = Throughput()

    def _check_stop(self, run: RunState, interrupt: GracefulInterrupt) -> None:
        """A signal on any rank stops every rank (interrupted); reaching ``schedule.max_steps`` stops too."""
        flag = 1.0 if interrupt.received is not None else 0.0
        if self.ctx.distributed:
            flag = all_reduce_max(flag, self.ctx)
        max_steps = self.cfg.schedule.max_steps
        if flag:
            run.status, run.signum = "interrupted", int(interrupt.received or 15)
        elif max_steps is not None and self.global_step >= max_steps:
            run.status = "max_steps"

    def _advance_epoch(self) -> bool:
        """Move to the next epoch when this one is done; returns whether it was."""
        if self.step_in_epoch != self.steps_per_epoch:
            return False
        self.epoch, self.step_in_epoch = self.epoch + 1, 0
        return True

    def _evaluate_if_due(self, end_of_epoch: bool) -> None:
        every = self.cfg.eval.every_epochs
        if end_of_epoch and every and self.epoch % every == 0:
            self._evaluate()

    def _checkpoint_if_due(self, run: RunState, end_of_epoch: bool) -> None:
        """At a stop, an epoch end, every ``checkpoint.every_steps`` steps and at the last step."""
        every = self.cfg.checkpoint.every_steps
        periodic = every is not None and self.global_step % every == 0
        if run.status != "completed" or end_of_epoch or periodic or self.global_step == self.total_steps:
            run.last_checkpoint = self.save() or run.last_checkpoint

    def _finish(self, run: RunState) -> TrainResult:
        """The run's result, and its summary for metrics.json."""
        if run.signum is not None:
            self.logger.message(
                f"stopped by signal {run.signum} at step {self.global_step}; checkpoint {run.last_checkpoint}"
            )
        result = TrainResult(
            self.out_dir,
            run.status,
            self.global_step,
            self.global_step / self.steps_per_epoch,
            run.losses,
            self.guard.total,
            run.last_checkpoint,
            list(self.logger.evaluations),
            run.total.images_per_s,
            run.total.wait_fraction,
            run.signum,
            run.timings,
        )
        self.logger.summary = {
            "status": run.status,
            "global_step": self.global_step,
            "epoch": result.epoch,
            "images_per_s": result.images_per_s,
            "data_wait_fraction": result.data_wait_fraction,
            "nonfinite_steps": self.guard.total,
            "world_size": self.ctx.world_size,
            "encoder_momentum": self.encoder_momentum,
            "momentum_restart_step": self.momentum_restart_step,
            "last_checkpoint": str(run.last_checkpoint) if run.last_checkpoint else None,
        }
        return result


def train(
    cfg: Config,
    train_set: Dataset,
    *,
    evaluate_fn: EvaluateFn | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    resume: str | Path | None = None,
    model: nn.Module | None = None,
    objective_factory: ObjectiveFactory | None = None,
) -> TrainResult:
    """Train ``cfg.model.backbone`` with the joint objective on ``train_set``; returns a ``TrainResult``.

    ``out_dir`` (default: ``cfg.runtime.out_dir``) receives config.yaml, checkpoints/, tb/ and
    metrics.json. ``resume`` is a checkpoint path or ``"auto"`` (this run's newest checkpoint, if
    any). ``evaluate_fn(backbone) -> dict`` runs on rank 0 every ``cfg.eval.every_epochs``.
    Under torchrun, call ``init_distributed()`` first; ``cfg.schedule.batch_size`` is the global
    batch. ``model`` / ``objective_factory`` replace ``create_backbone`` / ``build_objective``
    (both are built after seeding, so runs are reproducible). Raises ``NonFiniteLossError`` after
    too many non-finite steps in a row, ``OutputLockedError`` (on every rank) when another live
    process writes the same run directory.
    """
    out = cfg.runtime.out_dir if out_dir is None else out_dir
    lock = _lock_run_directory(out, current_context(cfg.runtime.device))
    try:
        trainer = Trainer(
            cfg,
            train_set,
            evaluate_fn=evaluate_fn,
            out_dir=out,
            progress=progress,
            model=model,
            objective_factory=objective_factory,
        )
        if resume is not None:
            trainer.resume(resume)
        return trainer.run()
    finally:
        if lock is not None:
            lock.release()


def _lock_run_directory(out: str | Path | None, ctx: DistContext) -> OutputLock | None:
    """Rank 0 locks the run directory (one writer per run); every rank raises if it could not."""
    lock = OutputLock(out, "clusterface train") if out is not None and ctx.is_main else None
    refused: OutputLockedError | None = None
    if lock is not None:
        try:
            lock.acquire()
        except OutputLockedError as err:
            refused = err
    if ctx.distributed and all_reduce_max(1.0 if refused else 0.0, ctx) and refused is None:
        raise OutputLockedError(f"{out}: rank 0 could not lock the run directory (see its message)")
    if refused is not None:
        raise refused
    return lock
