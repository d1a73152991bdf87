"""Online vs momentum encoder of a training checkpoint, on a verification .bin.

    .venv/bin/python benchmarks/momentum_vs_online.py runs/horizon/full_horizon/checkpoints/last.pt \
        data/sf600/val/verification.bin --json results/horizon/full_horizon.json

Writes both encoders' 10-fold accuracy and TAR@FAR, the relative parameter distance
||xi - theta|| / ||theta|| over floating parameters and buffers, and the run's mu (from its
metrics.json), plus the command line, as one small JSON.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from clusterface.evaluation import evaluate_bin
from clusterface.models import create_backbone
from clusterface.training import load_backbone, load_checkpoint


def momentum_backbone(checkpoint: Path) -> torch.nn.Module:
    """The checkpoint's momentum encoder as a plain backbone (eval mode)."""
    state = load_checkpoint(checkpoint)
    if "momentum_encoder" not in state:
        raise SystemExit(f"{checkpoint} has no momentum encoder (objective.use_momentum_encoder was false)")
    _, cfg = load_backbone(checkpoint)
    model = create_backbone(cfg.model.backbone, embedding_dim=cfg.model.embedding_dim, dropout=cfg.model.dropout)
    model.load_state_dict({k.removeprefix("encoder."): v for k, v in state["momentum_encoder"].items()})
    return model.eval()


def relative_distance(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """||a - b|| / ||a|| over all floating parameters and buffers."""
    sa, sb = a.state_dict(), b.state_dict()
    num = sum(float((sa[k].double() - sb[k].double()).square().sum()) for k in sa if sa[k].is_floating_point())
    den = sum(float(sa[k].double().square().sum()) for k in sa if sa[k].is_floating_point())
    return (num / den) ** 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("bin", type=Path)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    online, cfg = load_backbone(args.checkpoint)
    momentum = momentum_backbone(args.checkpoint)
    out: dict[str, object] = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "checkpoint": str(args.checkpoint),
        "bin": str(args.bin),
        "relative_distance_online_momentum": relative_distance(online, momentum),
    }
    metrics = args.checkpoint.parent.parent / "metrics.json"
    if metrics.is_file():
        summary = json.loads(metrics.read_text()).get("summary", {})
        out["run"] = {k: summary.get(k) for k in ("global_step", "encoder_momentum", "momentum_restart_step")}
    for name, model in (("online", online), ("momentum", momentum)):
        t0 = time.perf_counter()
        res = evaluate_bin(model, args.bin, batch_size=cfg.eval.batch_size, flip=True, progress=False)
        out[name] = {
            "accuracy": res["accuracy"],
            "accuracy_std": res["accuracy_std"],
            "tar_at_far": res["tar_at_far"],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(name, out[name], flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
