"""SynthFaces generation speed: CPU per image, images/s with 1 and 2 worker processes, demo-set write time.

Three numbers:
- ``render_ms_per_image``: CPU time per image in this process (render + JPEG, no files, no pool),
  after a warm-up that compiles the numba kernels and fills the identity caches as a long run would;
- ``workers=N``: a whole dataset written from scratch with N processes (pool start-up, files, pairs,
  .bin, CSV and contact sheet included);
- ``demo_set`` (with ``--demo-set``): the default demo dataset written from scratch.

``--baseline-src DIR`` also times another checkout's renderer (its ``src`` folder, e.g. a
``git worktree`` of an older commit) in subprocesses, alternating with this one, and reports
the ratio: on a shared virtual machine the absolute numbers drift by +-30 % over minutes.

Run (the machine should be quiet; numbers on a shared machine are noisy, so compare the
ratios measured in one run):
    .venv/bin/python benchmarks/synth_speed.py                      # CPU/image, 1 vs 2 workers
    .venv/bin/python benchmarks/synth_speed.py --demo-set runs/synth_demo   # + write the default demo set
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from clusterface.config.schema import SynthConfig
from clusterface.synth import generate_dataset


def images_per_second(workers: int, identities: int, median: int) -> tuple[float, int]:
    """Write a fresh dataset with ``workers`` processes; returns (images/s, images), pool start-up included."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SynthConfig(root=Path(tmp) / "set", identities=identities, images_median=median, workers=workers, seed=1)
        start = time.perf_counter()
        generate_dataset(cfg, progress=False)
        seconds = time.perf_counter() - start
        n = json.loads((Path(tmp) / "set" / "manifest.json").read_text())
        images = int(n["train_images"]) + int(n["test_images"])
    return images / seconds, images


def render_ms_per_image(identities: int, median: int, images: int) -> float:
    """CPU milliseconds per image of ``render_record`` (pixels + JPEG) in this process."""
    from clusterface.synth.plan import build_plan
    from clusterface.synth.sampling import render_record

    cfg = SynthConfig(root=Path("unused"), identities=identities, images_median=median, seed=1)
    plan = build_plan(cfg)
    records = list(plan.train + plan.test)[:images]
    for rec in records[:20]:  # compile / load the kernels once
        render_record(cfg, rec)
    start = time.process_time()
    for rec in records:
        render_record(cfg, rec)
    return (time.process_time() - start) / len(records) * 1e3


_PROBE = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from clusterface.config.schema import SynthConfig\n"
    "from clusterface.synth.plan import build_plan\n"
    "from clusterface.synth.sampling import render_record\n"
    "cfg = SynthConfig(root=Path('unused'), identities={identities}, images_median={median}, seed=1)\n"
    "plan = build_plan(cfg)\n"
    "records = list(plan.train + plan.test)[:{images}]\n"
    "[render_record(cfg, r) for r in records[:20]]\n"
    "t = time.process_time()\n"
    "[render_record(cfg, r) for r in records]\n"
    "print((time.process_time() - t) / len(records) * 1e3)\n"
)


def subprocess_ms_per_image(src: Path, identities: int, median: int, images: int) -> float:
    """``render_ms_per_image`` of the package under ``src``, in a fresh interpreter."""
    import subprocess
    import sys

    code = _PROBE.format(identities=identities, median=median, images=images)
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--identities", type=int, default=120)
    ap.add_argument("--images-median", type=int, default=20)
    ap.add_argument("--demo-set", type=Path, help="also write the default demo dataset here (removed first)")
    ap.add_argument("--baseline-src", type=Path, help="another checkout's src/ to time alternately with this one")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds with --baseline-src")
    ap.add_argument("--images", type=int, default=600, help="images per round with --baseline-src")
    args = ap.parse_args()
    if args.baseline_src is not None:
        here = Path(__file__).resolve().parents[1] / "src"
        pairs = []
        for _ in range(args.rounds):
            new = subprocess_ms_per_image(here, args.identities, args.images_median, args.images)
            old = subprocess_ms_per_image(args.baseline_src.resolve(), args.identities, args.images_median, args.images)
            pairs.append((round(new, 2), round(old, 2)))
        ratios = sorted(o / n for n, o in pairs)
        print(
            json.dumps(
                {
                    "ms_per_image_this_vs_baseline": pairs,
                    "speedup": [round(o / n, 2) for n, o in pairs],
                    "median_speedup": round(ratios[len(ratios) // 2], 2),
                }
            )
        )
    rows: dict[str, object] = {
        "render_ms_per_image": round(render_ms_per_image(args.identities, args.images_median, 1500), 2)
    }
    for workers in (1, 2):
        ips, n = images_per_second(workers, args.identities, args.images_median)
        rows[f"workers={workers}"] = {"images": n, "images_per_s": round(ips, 1)}
    rows["speedup_2_vs_1"] = round(rows["workers=2"]["images_per_s"] / rows["workers=1"]["images_per_s"], 2)  # type: ignore[index]
    rows["machine_load_1min"] = round(os.getloadavg()[0], 2)
    if args.demo_set is not None:
        shutil.rmtree(args.demo_set, ignore_errors=True)
        cfg = SynthConfig(root=args.demo_set)  # the defaults are the demo's dataset
        start = time.perf_counter()
        generate_dataset(cfg, progress=True)
        seconds = time.perf_counter() - start
        m = json.loads((args.demo_set / "manifest.json").read_text())
        rows["demo_set"] = {
            "seconds": round(seconds, 1),
            "train_images": m["train_images"],
            "test_images": m["test_images"],
            "identities": m["identities"],
            "pairs_per_fold": m["pairs"]["pairs_per_fold"],
        }
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
