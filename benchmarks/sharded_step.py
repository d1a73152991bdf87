"""Benchmark: one training step with the objective replicated vs sharded by class, 2 gloo ranks on CPU.

Each configuration runs in fresh processes (``torch.multiprocessing.spawn``, 2 ranks) so that the
peak resident memory belongs to it alone. The step is the trainer's own ``TrainStep`` (all-gather
of the global batch, objective, backward, gradient clip, SGD step, memory update) with the full
method past its warm-up (cluster-guided margin, SCC, align; momentum encoder off) on a tiny
backbone, so that the head dominates. Reported per rank:

- step time: median of the timed steps (after one untimed step);
- objective state: bytes of W, its gradient and SGD momentum, and the memory's buffers (exact);
- peak RSS: the process's maximum resident set (``ru_maxrss``), everything included;
- communicated: bytes of the tensors this rank passes to torch.distributed collectives per step,
  counted by wrapping them (the backbone's DDP all-reduce, done in C++, is added from its size).

The replicated/sharded ratio of the step times is printed per C. Run (takes minutes; the
replicated 10^6-class case peaked at 4.5 GB per rank at d = 128, global batch 64):

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/sharded_step.py --cases 100000:512 --steps 3
    PYTHONPATH=src .venv/bin/python benchmarks/sharded_step.py --cases 1000000:128 --batch 64 --steps 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp
from torch import nn


class TinyBackbone(nn.Module):
    """8x8-stride conv, pooling and a linear layer to d: negligible next to a 10^5-class head."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, kernel_size=8, stride=8)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(8 * 16, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


def count_collectives(counter: dict[str, int]) -> None:
    """Wrap torch.distributed's Python collectives to add their tensors' bytes to ``counter``."""
    import torch.distributed as dist

    def size(obj: object) -> int:
        if torch.is_tensor(obj):
            return obj.numel() * obj.element_size()
        return 0

    for name in ("all_reduce", "all_gather", "gather", "broadcast", "reduce_scatter"):
        original = getattr(dist, name)

        def wrapped(*args, _original=original, _name=name, **kwargs):  # type: ignore[no-untyped-def]
            # the tensor this rank sends: all_gather(out_list, t) / gather(t, ...) / all_reduce(t)
            sent = args[1] if _name == "all_gather" else args[0]
            counter[_name] = counter.get(_name, 0) + size(sent)
            return _original(*args, **kwargs)

        setattr(dist, name, wrapped)


def worker(rank: int, world: int, port: int, mode: str, classes: int, dim: int, args: dict, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(args["threads"])
    from torch.nn.parallel import DistributedDataParallel

    from clusterface.config import load_config
    from clusterface.losses import build_objective
    from clusterface.training import init_distributed, shutdown_distributed
    from clusterface.training.optim import build_optimizer, build_scheduler
    from clusterface.training.step import TrainStep

    ctx = init_distributed("cpu", timeout_s=1800)
    counter: dict[str, int] = {}
    count_collectives(counter)
    try:
        cfg = load_config(
            None,
            [
                f"model.embedding_dim={dim}",
                f"objective.sharding={mode}",
                "objective.use_momentum_encoder=false",
                "objective.warmup_epochs=0",
                "margin.kind=cluster_guided",
                f"schedule.batch_size={args['batch']}",
            ],
        )
        torch.manual_seed(0)
        model = TinyBackbone(dim)
        objective = build_objective(cfg, classes)
        ddp = DistributedDataParallel(model)
        optimizer = build_optimizer([model, objective], cfg.optim)
        scheduler = build_scheduler(optimizer, cfg.schedule, 1000)
        step = TrainStep(
            model=ddp,
            raw_model=model,
            objective=objective,
            momentum_encoder=None,
            optimizer=optimizer,
            scheduler=scheduler,
            ctx=ctx,
            grad_clip=cfg.optim.grad_clip,
        )
        objective.set_progress(1.0)
        local = args["batch"] // world
        g = torch.Generator().manual_seed(rank)
        images = torch.randint(0, 256, (local, 3, 112, 112), dtype=torch.uint8, generator=g)
        times: list[float] = []
        for i in range(args["steps"] + 1):
            labels = torch.randint(0, classes, (local,), generator=g)
            if i == 1:
                counter.clear()
            t0 = time.perf_counter()
            step(images, labels, step=i)
            times.append(time.perf_counter() - t0)
            if i == 0:
                objective.refresh_concentration()  # known centres: SCC and align really run
        timed = args["steps"]
        state_bytes = sum(t.numel() * t.element_size() for t in [*objective.parameters(), *objective.buffers()])
        grad_bytes = sum(p.numel() * p.element_size() for p in objective.parameters())
        momentum_bytes = grad_bytes  # SGD momentum buffer of W
        ddp_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
        result = {
            "mode": mode,
            "classes": classes,
            "dim": dim,
            "rank": rank,
            "step_s": statistics.median(times[1:]),
            "objective_bytes": state_bytes + grad_bytes + momentum_bytes,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "communicated_bytes": sum(counter.values()) / timed + ddp_bytes,
            "by_collective": {k: v / timed for k, v in counter.items()},
        }
        Path(out, f"{mode}-{classes}-{rank}.json").write_text(json.dumps(result))
    finally:
        shutdown_distributed()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["100000:512", "1000000:128"], help="C:d pairs")
    parser.add_argument("--modes", nargs="+", default=["replicated", "classes"])
    parser.add_argument("--batch", type=int, default=128, help="global batch")
    parser.add_argument("--steps", type=int, default=3, help="timed steps (after one untimed)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per rank")
    parser.add_argument("--world", type=int, default=2)
    args = parser.parse_args(argv)
    child_args = {"batch": args.batch, "steps": args.steps, "threads": args.threads}
    with tempfile.TemporaryDirectory() as out:
        for case in args.cases:
            classes, dim = (int(v) for v in case.split(":"))
            rows = {}
            for mode in args.modes:
                mp.spawn(
                    worker,
                    args=(args.world, free_port(), mode, classes, dim, child_args, out),
                    nprocs=args.world,
                    join=True,
                )
                ranks = [json.loads(Path(out, f"{mode}-{classes}-{r}.json").read_text()) for r in range(args.world)]
                rows[mode] = ranks
                step = max(r["step_s"] for r in ranks)
                print(
                    f"C={classes:>8} d={dim:>4} {mode:10s} step {step:7.3f} s | per rank: objective "
                    f"{max(r['objective_bytes'] for r in ranks) / 2**20:8.1f} MiB, peak RSS "
                    f"{max(r['peak_rss_bytes'] for r in ranks) / 2**20:8.1f} MiB, communicated "
                    f"{max(r['communicated_bytes'] for r in ranks) / 2**20:8.2f} MiB/step",
                    flush=True,
                )
            if {"replicated", "classes"} <= rows.keys():
                rep = max(r["step_s"] for r in rows["replicated"])
                sh = max(r["step_s"] for r in rows["classes"])
                print(f"C={classes:>8} d={dim:>4} sharded step is {rep / sh:.2f}x faster than replicated", flush=True)


if __name__ == "__main__":
    main()
