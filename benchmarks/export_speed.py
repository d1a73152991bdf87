"""Export time, onnxruntime vs torch CPU embedding throughput (same batch, same threads), align speed.

    python benchmarks/export_speed.py --backbones cfnet_s iresnet50 --batch 64 --threads 2 --rounds 5 \
        --photos ~/.cache/clusterface-tests/face_recognition-1.3.0-photos

Throughput rounds alternate torch and onnxruntime in one process; the median of the rounds is
reported, and the ratio ORT / torch is the number to read (both see the same machine load).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def make_checkpoint(backbone: str, path: Path) -> Path:
    from clusterface.config import Config, config_to_dict
    from clusterface.models import create_backbone
    from clusterface.training import save_checkpoint

    cfg = Config()
    cfg.model.backbone = backbone
    model = create_backbone(backbone, embedding_dim=cfg.model.embedding_dim).eval()
    return save_checkpoint({"config": config_to_dict(cfg), "backbone": model.state_dict()}, path)


def throughput(fn, batch: torch.Tensor, seconds: float = 3.0) -> float:
    """Images per second of ``fn(batch)`` over at least ``seconds`` (after one warm-up call)."""
    fn(batch)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(batch)
        n += len(batch)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=["cfnet_s", "iresnet50"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0, help="per throughput measurement")
    ap.add_argument("--photos", type=Path, default=None, help="folder of photos for the align speed")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import onnxruntime as ort

    from clusterface.evaluation import OnnxEmbedder, TorchEmbedder
    from clusterface.export import export_checkpoint, parity_images, read_checkpoint_backbone

    torch.set_num_threads(args.threads)
    report: dict[str, object] = {
        "batch": args.batch,
        "threads": args.threads,
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "backbones": {},
    }
    images = parity_images(args.batch, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.backbones:
            ckpt = make_checkpoint(name, Path(tmp) / f"{name}.pt")
            t0 = time.perf_counter()
            res = export_checkpoint(ckpt, Path(tmp) / name)
            export_s = time.perf_counter() - t0
            model, _, _ = read_checkpoint_backbone(ckpt)
            torch_emb = TorchEmbedder(model)
            onnx_emb = OnnxEmbedder(res.onnx)
            so = ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = args.threads, 1, 3
            onnx_emb.session = ort.InferenceSession(str(res.onnx), so, providers=["CPUExecutionProvider"])
            t_rates, o_rates = [], []
            for _ in range(args.rounds):
                t_rates.append(throughput(torch_emb, images, args.seconds))
                o_rates.append(throughput(onnx_emb, images, args.seconds))
            t_med, o_med = statistics.median(t_rates), statistics.median(o_rates)
            row = {
                "export_s": round(export_s, 2),
                "export_parts_s": {k: round(v, 2) for k, v in res.seconds.items()},
                "parity_max_abs_diff": res.parity.max_abs_diff if res.parity else None,
                "onnx_mb": round(res.onnx.stat().st_size / 2**20, 1),
                "torch_img_s": round(t_med, 1),
                "ort_img_s": round(o_med, 1),
                "ort_over_torch": round(o_med / t_med, 3),
                "torch_rounds": [round(r, 1) for r in t_rates],
                "ort_rounds": [round(r, 1) for r in o_rates],
            }
            report["backbones"][name] = row  # type: ignore[index]
            print(name, json.dumps(row), flush=True)
    if args.photos is not None:
        from clusterface.align import DlibDetector, detect_faces, iter_photos, read_photo, warp_face

        photos = [(p, read_photo(p)) for p in iter_photos(args.photos)]
        align: dict[str, object] = {
            "photos": len(photos),
            "sizes": sorted({f"{r.shape[1]}x{r.shape[0]}" for _, r in photos}),
        }
        for upsample in (0, 1):
            det = DlibDetector(upsample=upsample)
            times, found = [], 0
            for _ in range(max(1, args.rounds // 2)):
                t0 = time.perf_counter()
                found = 0
                for _, rgb in photos:
                    faces = detect_faces(det, rgb)
                    found += bool(faces)
                    for f in faces:
                        warp_face(rgb, f.transform)
                times.append(time.perf_counter() - t0)
            align[f"upsample{upsample}_photos_per_s"] = round(len(photos) / statistics.median(times), 2)
            align[f"upsample{upsample}_found"] = found
        report["align"] = align
        print("align", json.dumps(align), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
