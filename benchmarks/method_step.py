"""Benchmark: one training step of the full joint objective vs plain ArcFace, and head time vs C.

A step is forward + backward + SGD step (+ for the full method: the momentum encoder's
forward, its EMA update and the memory update). All variants share the backbone, the batch
and the number of classes, and are timed in the same process with interleaved repetitions;
the reported number is the ratio of medians to ArcFace's. Run:

    .venv/bin/python benchmarks/method_step.py                 # cfnet_s b64 + iresnet18 b16, head vs C
    .venv/bin/python benchmarks/method_step.py --reps 30 --backbones cfnet_s:128
    python benchmarks/method_step.py --device cuda --amp --backbones iresnet50:128 --classes 10000
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from clusterface.config import Config, load_config
from clusterface.heads import ArcFaceMargin, ClusterGuidedMargin, CosineClassifier
from clusterface.losses import JointObjective, build_objective
from clusterface.memory import ClassCentreMemory, MomentumEncoder
from clusterface.models import create_backbone

VARIANTS = {
    "arcface": [
        "margin.kind=arcface",
        "objective.use_scc=false",
        "objective.use_align=false",
        "objective.use_momentum_encoder=false",
    ],
    "full": [],
    "full, momentum every 2 steps": ["objective.momentum_every_steps=2"],
    "full, momentum every 4 steps": ["objective.momentum_every_steps=4"],
    "full without momentum encoder": ["objective.use_momentum_encoder=false"],
}


class Runner:
    """One variant: its own copy of the backbone, objective, optimiser and momentum encoder."""

    def __init__(self, cfg: Config, backbone_state: dict, num_classes: int, device: torch.device, amp: bool) -> None:
        self.model = create_backbone(cfg.model.backbone, embedding_dim=cfg.model.embedding_dim)
        self.model.load_state_dict(backbone_state)
        self.model = self.model.to(device, memory_format=torch.channels_last)
        self.model.train()
        self.amp = amp
        self.objective: JointObjective = build_objective(cfg, num_classes).to(device)
        self.objective.set_progress(cfg.objective.warmup_epochs + 1.0)  # past the warm-up
        # mu's value does not change the step's cost (the trainer sets it from the EMA horizon)
        self.encoder = MomentumEncoder(self.model, 0.9) if cfg.objective.use_momentum_encoder else None
        params = [*self.model.parameters(), *self.objective.parameters()]
        self.optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=5e-4)
        self.step_index = 0

    def fill_memory(self, x: torch.Tensor, labels: torch.Tensor) -> None:
        with torch.no_grad():
            self.objective.update_memory(self.model(x).float(), labels)
        self.objective.refresh_concentration()

    def step(self, x: torch.Tensor, labels: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        # bf16 autocast (when --amp) covers both encoders; the objective runs in float32
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.amp):
            embeddings = self.model(x)
            run_momentum = self.encoder is not None and self.objective.wants_momentum(self.step_index)
            momentum = self.encoder(x) if run_momentum and self.encoder is not None else None
        embeddings = embeddings.float()
        momentum = momentum.float() if momentum is not None else None
        parts = self.objective(embeddings, labels, momentum)
        parts["loss"].backward()
        self.optimizer.step()
        if self.encoder is not None:
            self.encoder.update(self.model)
        if self.encoder is None or momentum is not None:
            self.objective.update_memory(momentum if momentum is not None else embeddings.detach(), labels)
        self.step_index += 1


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def interleaved_medians(fns: dict[str, Callable[[], None]], reps: int, warmup: int = 2) -> dict[str, float]:
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            synchronize()
            start = time.perf_counter()
            fn()
            synchronize()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_step(
    backbone: str, batch: int, num_classes: int, reps: int, steps_per_rep: int, device: torch.device, amp: bool
) -> None:
    torch.manual_seed(0)
    base = load_config(None, [f"model.backbone={backbone}"])
    state = create_backbone(backbone, embedding_dim=base.model.embedding_dim).state_dict()
    x = (torch.rand(batch, 3, 112, 112, device=device) * 2 - 1).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, num_classes, (batch,), device=device)
    runners = {}
    for name, overrides in VARIANTS.items():
        cfg = load_config(None, [f"model.backbone={backbone}", *overrides])
        runners[name] = Runner(cfg, state, num_classes, device, amp)
        runners[name].fill_memory(x, labels)

    def make(r: Runner) -> Callable[[], None]:
        def run() -> None:
            for _ in range(steps_per_rep):
                r.step(x, labels)

        return run

    medians = interleaved_medians({k: make(r) for k, r in runners.items()}, reps)
    ref = medians["arcface"]
    where = f"{device.type}{', bf16 autocast' if amp else ''}"
    print(f"\n{backbone}, batch {batch}, C={num_classes}, {where}, {reps} interleaved reps x {steps_per_rep} steps")
    print("| variant | ms/step | ratio vs ArcFace |\n|---|---:|---:|")
    for name, t in medians.items():
        print(f"| {name} | {1e3 * t / steps_per_rep:.1f} | {t / ref:.3f} |")


def head_step(head: CosineClassifier, x: torch.Tensor, labels: torch.Tensor) -> None:
    """Forward + backward of the head and its cross-entropy."""
    head.weight.grad = None
    F.cross_entropy(head(x, labels), labels).backward()


def bench_head(classes: list[int], batch: int, dim: int, reps: int, device: torch.device) -> None:
    torch.manual_seed(0)
    x = torch.randn(batch, dim, device=device)
    print(f"\nhead forward+backward (cosine classifier + CE), {device.type}, batch {batch}, d={dim}, {reps} reps")
    print("| C | ArcFace ms | CG-ArcFace ms | memory update ms | ArcFace ns per class |\n|---:|---:|---:|---:|---:|")
    for c in classes:
        labels = torch.randint(0, c, (batch,), device=device)
        arc = CosineClassifier(c, dim, ArcFaceMargin(0.5)).to(device)
        memory = ClassCentreMemory(c, dim).to(device)
        memory.update(torch.randn(4 * batch, dim, device=device), torch.randint(0, c, (4 * batch,), device=device))
        memory.refresh()
        cg = CosineClassifier(c, dim, ClusterGuidedMargin(memory, 0.5)).to(device)

        fns = {
            "arc": partial(head_step, arc, x, labels),
            "cg": partial(head_step, cg, x, labels),
            "mem": partial(memory.update, x, labels),
        }
        m = interleaved_medians(fns, reps, warmup=1)
        arc_ms, cg_ms, mem_ms = (1e3 * m[k] for k in ("arc", "cg", "mem"))
        print(f"| {c:,} | {arc_ms:.2f} | {cg_ms:.2f} | {mem_ms:.3f} | {1e6 * arc_ms / c:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="*", default=["cfnet_s:64", "iresnet18:16"], help="name:batch")
    parser.add_argument("--classes", type=int, default=1000, help="classes for the step benchmark")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--steps-per-rep", type=int, default=4, help="a multiple of 4 (momentum every k)")
    parser.add_argument("--head-classes", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--head-reps", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast for the encoders (GPU)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        # on a shared, oversubscribed CPU one thread avoids OpenMP barrier stalls on small ops
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for spec in args.backbones:
        name, batch = spec.split(":")
        bench_step(name, int(batch), args.classes, args.reps, args.steps_per_rep, device, args.amp)
    if args.head_classes:
        bench_head(args.head_classes, 64, 512, args.head_reps, device)


if __name__ == "__main__":
    main()
