"""Benchmark: the ArcFace head's step (forward + backward) vs pytorch-metric-learning's ArcFaceLoss.

All heads hold the same W (C x d) and see the same batch; they are timed side by side in this
process with interleaved repetitions, and the reported number is the ratio of medians. Three heads:

- ``clusterface``: CosineClassifier + ArcFaceMargin + cross-entropy (logits divided by ||w_k||);
- ``naive normalise-W``: the same arithmetic but normalising all of W first (the head before
  issue 12), for reference;
- ``pml ArcFaceLoss``: pytorch-metric-learning's ArcFaceLoss (margin 28.6 deg = 0.5 rad, s = 64),
  skipped with a note if the package is not installed (``pip install pytorch-metric-learning``).

The losses of the three are printed too (they must agree). Run:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/head_speed.py                      # C=1e5 d=512 B=128
    .venv/bin/python benchmarks/head_speed.py --classes 100000 --reps 20 --threads 2
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from clusterface.heads import ArcFaceMargin, CosineClassifier
from clusterface.ops import l2_normalize

MARGIN, SCALE = 0.5, 64.0


def clusterface_head(weight: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    head = CosineClassifier(weight.shape[0], weight.shape[1], ArcFaceMargin(MARGIN), SCALE)
    head.weight.data.copy_(weight)

    def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        head.weight.grad = None
        return F.cross_entropy(head(x, y), y)

    return loss


def naive_head(weight: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    head = CosineClassifier(weight.shape[0], weight.shape[1], ArcFaceMargin(MARGIN), SCALE)
    head.weight.data.copy_(weight)

    def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        head.weight.grad = None
        cos = l2_normalize(x) @ l2_normalize(head.weight).t()  # the materialised normalised W
        return F.cross_entropy(head.margin(cos, y) * SCALE, y)

    return loss


def pml_head(weight: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
    try:
        from pytorch_metric_learning.losses import ArcFaceLoss
    except ImportError:
        return None
    head = ArcFaceLoss(weight.shape[0], weight.shape[1], margin=math.degrees(MARGIN), scale=SCALE)
    head.W.data = weight.t().contiguous().clone()  # pml stores W as (d, C)

    def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        head.W.grad = None
        return head(x, y)

    return loss


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(args.classes, args.dim, generator=g) * 0.01
    x0 = torch.randn(args.batch, args.dim, generator=g)
    y = torch.randint(0, args.classes, (args.batch,), generator=g)
    heads = {"clusterface": clusterface_head(weight), "naive normalise-W": naive_head(weight)}
    pml = pml_head(weight)
    if pml is None:
        print("pytorch-metric-learning is not installed: comparing with the naive head only")
    else:
        heads["pml ArcFaceLoss"] = pml
    times: dict[str, list[float]] = {name: [] for name in heads}
    losses: dict[str, float] = {}
    for rep in range(args.reps + 2):  # two warm-up rounds
        for name, fn in heads.items():
            x = x0.clone().requires_grad_(True)
            t0 = time.perf_counter()
            loss = fn(x, y)
            loss.backward()
            dt = time.perf_counter() - t0
            if rep >= 2:
                times[name].append(dt)
            losses[name] = float(loss.detach())
    base = statistics.median(times["clusterface"])
    print(
        f"C={args.classes} d={args.dim} B={args.batch} fp32 CPU threads={args.threads} reps={args.reps} "
        f"(forward + backward, median)"
    )
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:20s} {1e3 * med:8.1f} ms   {med / base:5.2f}x clusterface's time   loss {losses[name]:.6f}")


if __name__ == "__main__":
    main()
