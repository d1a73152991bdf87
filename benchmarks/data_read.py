"""Random-access read + decode throughput: RecordIO vs an image folder of the same 112x112 JPEGs.

Generates ``--images`` smooth, noisy 112x112 JPEGs (quality 95, ~5-7 KB like aligned face crops)
in ``--identities`` folders, converts the folder to RecordIO with ``folder_to_recordio`` (bytes
copied unchanged, so both sides decode identical JPEGs), then times a shuffled DataLoader pass
(batch 128, items ``(uint8 (3,112,112), label)``) over each dataset with 0 and 2 workers.
Each configuration runs a warm-up epoch (workers started, files in the page cache) and then
``--repeats`` timed epochs, interleaved between the two formats; the best epoch is reported.

    .venv/bin/python benchmarks/data_read.py --images 5000 --json benchmarks/data_read.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from clusterface.data import FaceDataset, ImageFolderDataset, RecordIODataset
from clusterface.data.convert import folder_to_recordio


def synthetic_crop(rng: np.random.Generator, size: int = 112) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    chans = [
        127 + 100 * np.sin(2 * np.pi * (rng.uniform(0.5, 4) * xx + rng.uniform(0.5, 4) * yy + rng.uniform()))
        for _ in range(3)
    ]
    img = np.stack(chans, axis=-1) + rng.normal(0, 12, (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def make_folder(root: Path, images: int, identities: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for i in range(images):
        d = root / f"id_{i % identities:05d}"
        d.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        Image.fromarray(synthetic_crop(rng)).save(buf, "JPEG", quality=95)
        (d / f"{i:06d}.jpg").write_bytes(buf.getvalue())


def epoch(loader: DataLoader) -> tuple[float, float]:
    """(images per wall-clock second, images per CPU-second of this process)."""
    start, cpu = time.perf_counter(), time.process_time()
    n = 0
    for images, _ in loader:
        n += images.shape[0]
    return n / (time.perf_counter() - start), n / max(time.process_time() - cpu, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--identities", type=int, default=500)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--dir", type=Path, default=None, help="reuse/keep the generated data here")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        base = args.dir or Path(tmp)
        folder, rec = base / "folder", base / "rec" / "train.rec"
        if not folder.is_dir():
            make_folder(folder, args.images, args.identities)
        if not rec.is_file():
            folder_to_recordio(folder, rec, verify=False, progress=False)
        datasets: dict[str, FaceDataset] = {
            "folder": ImageFolderDataset(folder, bad_file_policy="raise"),
            "recordio": RecordIODataset(rec, bad_file_policy="raise"),
        }
        n = len(datasets["folder"])
        jpeg_kb = sum(p.stat().st_size for p in folder.rglob("*.jpg")) / n / 1024
        order = torch.randperm(n, generator=torch.Generator().manual_seed(0)).tolist()
        results: dict[str, dict[str, float]] = {}
        for workers in args.workers:
            loaders = {
                name: DataLoader(
                    ds,
                    batch_size=args.batch_size,
                    sampler=order,
                    num_workers=workers,
                    persistent_workers=workers > 0,
                )
                for name, ds in datasets.items()
            }
            for loader in loaders.values():
                epoch(loader)  # warm-up: workers up, files cached
            best = {name: 0.0 for name in loaders}
            best_cpu = {name: 0.0 for name in loaders}
            for _ in range(args.repeats):
                for name, loader in loaders.items():
                    wall, cpu = epoch(loader)
                    best[name], best_cpu[name] = max(best[name], wall), max(best_cpu[name], cpu)
            results[f"workers={workers}"] = {
                "folder_images_per_s": round(best["folder"], 1),
                "recordio_images_per_s": round(best["recordio"], 1),
                "recordio_over_folder": round(best["recordio"] / best["folder"], 3),
            }
            if workers == 0:  # CPU time is far less sensitive to other processes than wall time
                results[f"workers={workers}"].update(
                    folder_images_per_cpu_s=round(best_cpu["folder"], 1),
                    recordio_images_per_cpu_s=round(best_cpu["recordio"], 1),
                )
            del loaders
    report = {
        "images": n,
        "mean_jpeg_kb": round(jpeg_kb, 2),
        "batch_size": args.batch_size,
        "cpus": len(os.sched_getaffinity(0)),
        "machine": platform.processor() or platform.machine(),
        "results": results,
    }
    print(json.dumps(report, indent=1))
    load = os.getloadavg()[0]
    report["load_average_1min"] = round(load, 2)
    print(f"\n1-min load average {load:.1f} on {report['cpus']} CPUs (above the CPU count: contended)")
    print("\n| workers | folder img/s | RecordIO img/s | RecordIO / folder |\n|---|---|---|---|")
    for key, r in results.items():
        print(
            f"| {key.split('=')[1]} | {r['folder_images_per_s']:.0f} | {r['recordio_images_per_s']:.0f} "
            f"| {r['recordio_over_folder']:.2f} |"
        )
    r0 = results.get("workers=0", {})
    if "folder_images_per_cpu_s" in r0:
        print(
            f"\nper CPU-second, 0 workers: folder {r0['folder_images_per_cpu_s']:.0f}, "
            f"RecordIO {r0['recordio_images_per_cpu_s']:.0f} images"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
