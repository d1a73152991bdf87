"""Training speed: demo throughput (full method vs ArcFace), data-wait fraction, model FLOP/s vs matmul peak.

    .venv/bin/python benchmarks/train_speed.py                      # everything, demo data as configured
    .venv/bin/python benchmarks/train_speed.py --skip-flops         # only the demo throughput
    .venv/bin/python benchmarks/train_speed.py synth.identities=60 synth.root=/tmp/synth_small

1. Demo throughput: ``train()`` on ``configs/demo.yaml`` (its data source, loader workers and
   backbone) for ``--steps`` steps, the first ``--skip`` excluded; the full method and ArcFace
   settings on top) on the same data, ``--rounds`` interleaved rounds. Reports images/s (batch /
   median step time, best round), their ratio, and the fraction of step time spent waiting for
   the next batch (target <= 2%).
2. Model FLOP/s: one training step (forward + backward + SGD, ArcFace head) of each backbone on a
   fixed batch, FLOPs counted by ``torch.utils.flop_counter`` (2 per multiply-add, backward
   included), divided by the step time and by this machine's float32 ``torch.mm`` FLOP/s measured
   in the same process right before each step (best step reported). Also per process CPU second
   (``time.process_time``), which is less sensitive to other load. NCHW and channels_last.

All numbers are ratios within one process, so they stay meaningful on a busy machine; absolute
images/s are not comparable across machines or loads.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.data import Dataset
from torch.utils.flop_counter import FlopCounterMode

from clusterface.config import Config, load_config
from clusterface.training import Trainer, build_train_dataset, train


def matmul_flops(n: int = 2048, reps: int = 5) -> tuple[float, float]:
    """Best float32 ``torch.mm`` FLOP/s on (n x n) @ (n x n): per wall second and per process CPU second."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best_wall = best_cpu = float("inf")
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        torch.mm(a, b)
        best_wall = min(best_wall, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    return 2 * n**3 / best_wall, 2 * n**3 / best_cpu


class FixedFaces(Dataset):
    """A few random uint8 faces (only to size the trainer; the timed steps use one fixed batch)."""

    def __init__(self, n: int, num_classes: int):
        g = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (n, 3, 112, 112), dtype=torch.uint8, generator=g)
        self.labels = (torch.arange(n) % num_classes).numpy()
        self.num_classes = num_classes

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])


def model_flops_fraction(backbone: str, channels_last: bool, batch: int, steps: int, classes: int = 1000) -> dict:
    cfg = load_config(
        "configs/arcface.yaml",
        [
            f"model.backbone={backbone}",
            f"model.channels_last={channels_last}",
            f"schedule.batch_size={batch}",
            "data.workers=0",
            "data.hflip=false",
        ],
    )
    data = FixedFaces(batch, classes)
    trainer = Trainer(cfg, data, out_dir=None, progress=False)
    images = data.images
    labels = torch.as_tensor(data.labels)
    with FlopCounterMode(display=False) as counter:
        trainer.step_fn(images, labels, step=0)
    flops = counter.get_total_flops()
    wall_fractions, cpu_fractions, step_times, peaks = [], [], [], []
    for i in range(steps):  # the peak is measured right before each step: the load on a shared machine drifts
        peak_wall, peak_cpu = matmul_flops()
        t, c = time.perf_counter(), time.process_time()
        trainer.step_fn(images, labels, step=i + 1)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        wall_fractions.append(flops / wall / peak_wall)
        cpu_fractions.append(flops / cpu / peak_cpu)
        step_times.append(wall)
        peaks.append(peak_wall)
    best = max(range(steps), key=lambda k: wall_fractions[k])
    return {
        "backbone": backbone,
        "channels_last": channels_last,
        "batch": batch,
        "train_gflop_per_img": flops / batch / 1e9,
        "step_s": step_times[best],
        "achieved_gflops": flops / step_times[best] / 1e9,
        "matmul_gflops": peaks[best] / 1e9,
        "fraction_of_matmul": wall_fractions[best],
        "fraction_of_matmul_cpu_time": max(cpu_fractions),
    }


def demo_throughput(cfg: Config, steps: int, skip: int) -> dict:
    data = build_train_dataset(cfg)
    cfg = cfg.model_copy(deep=True)
    cfg.schedule.max_steps = steps
    cfg.eval.every_epochs = 0
    cfg.schedule.epochs = max(cfg.schedule.epochs, -(-steps * cfg.schedule.batch_size // len(data)) + 1)  # type: ignore[arg-type]
    result = train(cfg, data, out_dir=None, progress=False)
    timed = result.step_timings[skip:]
    wait = sum(w for w, _ in timed)
    total = sum(t for _, t in timed)
    median = sorted(t for _, t in timed)[len(timed) // 2]
    return {
        "images_per_s": cfg.schedule.batch_size / median,
        "data_wait_fraction": wait / total,
        "steps_timed": len(timed),
        "batch": cfg.schedule.batch_size,
    }


def best_of(runs: list[dict]) -> dict:
    """Highest images/s over rounds (least disturbed by other load); data wait summed over all rounds."""
    best = max(runs, key=lambda r: r["images_per_s"])
    return {
        **best,
        "data_wait_fraction_all_rounds": sum(r["data_wait_fraction"] for r in runs) / len(runs),
        "images_per_s_rounds": [r["images_per_s"] for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="dotted overrides for the demo config (e.g. synth.root=...)")
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("--steps", type=int, default=14)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of full/ArcFace; best reported")
    parser.add_argument("--skip", type=int, default=4, help="first steps excluded (worker start-up, warm caches)")
    parser.add_argument("--flops-batch", type=int, default=16)
    parser.add_argument("--flops-steps", type=int, default=2)
    parser.add_argument("--backbones", default="iresnet50,cfnet_s")
    parser.add_argument("--skip-flops", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    out: dict = {"torch_threads": torch.get_num_threads()}
    if not args.skip_demo:
        full_cfg = load_config(args.config, args.overrides)
        arc_cfg = load_config(
            args.config,
            [
                *args.overrides,
                "margin.kind=arcface",
                "objective.use_scc=false",
                "objective.use_align=false",
                "objective.use_momentum_encoder=false",
            ],
        )
        full_runs, arc_runs = [], []
        for _ in range(args.rounds):  # interleaved, so slow drifts in other load hit both alike
            full_runs.append(demo_throughput(full_cfg, args.steps, args.skip))
            arc_runs.append(demo_throughput(arc_cfg, args.steps, args.skip))
        full, arc = best_of(full_runs), best_of(arc_runs)
        out["demo"] = {"full": full, "arcface": arc, "full_over_arcface": full["images_per_s"] / arc["images_per_s"]}
        print(
            f"demo ({args.config}, batch {full['batch']}, {full['steps_timed']} timed steps): "
            f"full {full['images_per_s']:.1f} img/s (data wait {100 * full['data_wait_fraction']:.2f}%), "
            f"ArcFace {arc['images_per_s']:.1f} img/s (data wait {100 * arc['data_wait_fraction']:.2f}%), "
            f"full/ArcFace = {out['demo']['full_over_arcface']:.3f}",
            flush=True,
        )
    if not args.skip_flops:
        out["flops"] = []
        for name in args.backbones.split(","):
            for channels_last in (False, True):
                r = model_flops_fraction(name, channels_last, args.flops_batch, args.flops_steps)
                out["flops"].append(r)
                print(
                    f"{name} {'channels_last' if channels_last else 'NCHW'} batch {r['batch']}: "
                    f"{r['train_gflop_per_img']:.2f} GFLOP/img/step, {r['achieved_gflops']:.1f} GFLOP/s = "
                    f"{100 * r['fraction_of_matmul']:.0f}% of matmul ({r['matmul_gflops']:.1f} GFLOP/s); per CPU "
                    f"second {100 * r['fraction_of_matmul_cpu_time']:.0f}%",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
