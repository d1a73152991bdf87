"""GPU check of the trainer (run on a CUDA machine): AMP bf16/fp16/off, resume, throughput and FLOP/s.

    PYTHONPATH=src python3 benchmarks/train_gpu_check.py [--json out.json]

1. The demo method (cfnet_s, full objective) trains for two epochs on random uint8 faces with
   ``runtime.amp`` = bf16, fp16 (GradScaler) and off: finite losses, no skipped steps, a checkpoint
   that ``load_backbone`` rebuilds.
2. Resume on the GPU: stop at step 10, resume, compare with an uninterrupted run (max |diff| of
   the loss sequences; cuDNN kernels are not bitwise deterministic, so this is reported, not
   asserted).
3. Training-step throughput (images/s) and achieved FLOP/s of cfnet_s and iresnet50 with bf16
   autocast and channels_last, as a fraction of this GPU's measured bf16 matmul FLOP/s.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode
from train_speed import FixedFaces

from clusterface.config import load_config
from clusterface.training import Trainer, load_backbone, train

# the same seeded random faces as the CPU benchmark (this script runs from benchmarks/)
RandomFaces = FixedFaces


def bf16_matmul_flops(n: int = 8192, reps: int = 10) -> float:
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t)


def demo_cfg(*extra: str):
    return load_config(
        "configs/demo.yaml",
        [
            "data.workers=2",
            "schedule.batch_size=128",
            "schedule.epochs=2",
            "eval.every_epochs=0",
            "logging.every_steps=8",
            "objective.warmup_epochs=0.5",
            "runtime.device=cuda",
            *extra,
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    args = parser.parse_args()
    out: dict = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    data = RandomFaces(2048, 100)
    tmp = Path(tempfile.mkdtemp())
    for amp in ("bf16", "fp16", "off"):
        r = train(demo_cfg(f"runtime.amp={amp}"), data, out_dir=tmp / amp, progress=False)
        model, _ = load_backbone(r.last_checkpoint)
        finite = all(math.isfinite(v) for v in r.losses)
        out[f"amp_{amp}"] = {
            "steps": r.global_step,
            "all_finite": finite,
            "nonfinite_steps": r.nonfinite_steps,
            "first_loss": r.losses[0],
            "last_loss": r.losses[-1],
            "images_per_s": r.images_per_s,
            "data_wait_fraction": r.data_wait_fraction,
            "checkpoint_rebuilds": bool(torch.isfinite(model(torch.zeros(2, 3, 112, 112))).all()),
        }
        print(amp, out[f"amp_{amp}"], flush=True)
    full = train(demo_cfg("runtime.amp=bf16"), data, out_dir=tmp / "full", progress=False)
    first = train(demo_cfg("runtime.amp=bf16", "schedule.max_steps=10"), data, out_dir=tmp / "split", progress=False)
    second = train(demo_cfg("runtime.amp=bf16"), data, out_dir=tmp / "split", progress=False, resume="auto")
    diffs = [abs(a - b) for a, b in zip(first.losses + second.losses, full.losses, strict=True)]
    out["resume_bf16"] = {"steps": len(diffs), "max_abs_loss_diff": max(diffs), "first_10_equal": diffs[:10]}
    print("resume", out["resume_bf16"], flush=True)
    peak = bf16_matmul_flops()
    out["bf16_matmul_tflops"] = peak / 1e12
    for backbone, batch in (("cfnet_s", 512), ("iresnet50", 256)):
        cfg = load_config(
            "configs/arcface.yaml",
            [
                f"model.backbone={backbone}",
                "model.channels_last=true",
                f"schedule.batch_size={batch}",
                "data.workers=0",
                "runtime.amp=bf16",
                "runtime.device=cuda",
                "data.hflip=false",
            ],
        )
        d = RandomFaces(batch, 1000)
        trainer = Trainer(cfg, d, out_dir=None, progress=False)
        labels = torch.as_tensor(d.labels)
        images = d.images.cuda()
        with FlopCounterMode(display=False) as counter:
            trainer.step_fn(images, labels)
        flops = counter.get_total_flops()
        for i in range(3):
            trainer.step_fn(images, labels, step=i)
        torch.cuda.synchronize()
        t = time.perf_counter()
        steps = 10
        for i in range(steps):
            trainer.step_fn(images, labels, step=i)
        torch.cuda.synchronize()
        dt = (time.perf_counter() - t) / steps
        out[f"speed_{backbone}"] = {
            "batch": batch,
            "images_per_s": batch / dt,
            "achieved_tflops": flops / dt / 1e12,
            "fraction_of_bf16_matmul": flops / dt / peak,
        }
        print(backbone, out[f"speed_{backbone}"], flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
