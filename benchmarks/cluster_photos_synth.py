"""End-to-end `cluster --detect` on SynthFaces pasted into larger photos, against clustering the crops directly.

Each SynthFaces test crop (112x112, aligned to the ArcFace template) is scaled by a random factor
and pasted at a random position into a 640x480 cluttered background, so the detector has real work.
Then: detection rate (photos with a face), alignment error (the template's points after paste +
detection + alignment, against where they are in the original crop, px of the 112 crop), and the
pairwise F of clustering the found faces' embeddings against clustering the same images' original
crops with the same model, method and threshold (the issue's bar: within 0.05).

    python benchmarks/cluster_photos_synth.py --synth data/sf_seed7 --model CKPT_OR_EXPORT --identities 50
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np


def background(rng: np.random.Generator, h: int = 480, w: int = 640) -> np.ndarray:
    """A cluttered photo-like background: a smooth colour field, rectangles and ellipses, sensor noise."""
    low = rng.uniform(0, 255, (6, 8, 3)).astype(np.float32)
    img = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(rng.integers(4, 10)):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(20, 200)), y + int(rng.integers(20, 200))), colour, -1)
        else:
            axes = (int(rng.integers(10, 80)), int(rng.integers(10, 80)))
            cv2.ellipse(img, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    img = cv2.GaussianBlur(img, (0, 0), 1.5) + rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def compose(crops: list[Path], out: Path, seed: int) -> dict[str, np.ndarray]:
    """Write one photo per crop; returns each photo's paste matrix (crop -> photo, 2x3)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    pastes = {}
    for crop_path in crops:
        crop = cv2.imread(str(crop_path))
        photo = background(rng)
        s = float(rng.uniform(1.2, 3.0))  # face crop 134..336 px
        size = round(112 * s)
        x = int(rng.integers(0, photo.shape[1] - size))
        y = int(rng.integers(0, photo.shape[0] - size)) if photo.shape[0] > size else 0
        big = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)
        hh = min(size, photo.shape[0] - y)
        photo[y : y + hh, x : x + size] = big[:hh]
        name = f"{crop_path.parent.name}__{crop_path.stem}.jpg"
        cv2.imwrite(str(out / name), photo, [cv2.IMWRITE_JPEG_QUALITY, 92])
        pastes[name] = np.array([[size / 112, 0, x], [0, size / 112, y]], dtype=np.float64)
    return pastes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synth", type=Path, required=True, help="SynthFaces root (test/images/<identity>/*.jpg)")
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--identities", type=int, default=50)
    ap.add_argument("--per-identity", type=int, default=8)
    ap.add_argument("--methods", nargs="+", default=["infomap", "agglomerative", "kmeans"])
    ap.add_argument("--threshold", type=float, default=None, help="cosine threshold (default: the model's, else 0.5)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/cluster_photos_bench"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import clusterface
    from clusterface.align import ARCFACE_TEMPLATE, DlibDetector, apply_transform
    from clusterface.align.template import similarity_transform
    from clusterface.clustering import ClusteringOptions, cluster_features, clustering_scores
    from clusterface.photos import cluster_photos

    ids = sorted(p for p in (args.synth / "test" / "images").iterdir() if p.is_dir())[: args.identities]
    crops = [c for d in ids for c in sorted(d.glob("*.jpg"))[: args.per_identity]]
    photos = args.work / "photos"
    if photos.exists():
        import shutil

        shutil.rmtree(args.work)
    pastes = compose(crops, photos, args.seed)
    model = clusterface.load(args.model)
    detector = DlibDetector()
    t0 = time.perf_counter()
    result = cluster_photos(photos, args.work / "out", model, detector, method="infomap", threshold=args.threshold)
    seconds = time.perf_counter() - t0
    # face 0 (the largest) of each photo that has one
    first = [i for i, f in enumerate(result.faces) if f.index == 0]
    found_names = [result.faces[i].photo.name for i in first]
    n_photos = len(crops)
    extra = sum(1 for f in result.faces if f.index > 0)
    # alignment error: original crop -> photo -> detected crop, template points
    errs = []
    for i in first:
        f = result.faces[i]
        m_det = similarity_transform(f.landmarks, ARCFACE_TEMPLATE)  # photo -> detected crop
        in_photo = apply_transform(pastes[f.photo.name], ARCFACE_TEMPLATE)
        errs.append(np.linalg.norm(apply_transform(m_det, in_photo) - ARCFACE_TEMPLATE, axis=1).mean())
    labels = np.array([n.split("__")[0] for n in found_names])
    _, y = np.unique(labels, return_inverse=True)
    detected = result.embeddings[first]
    direct_paths = [
        args.synth / "test" / "images" / n.split("__")[0] / (n.split("__")[1].rsplit(".", 1)[0] + ".jpg")
        for n in found_names
    ]
    direct = model.embed(direct_paths)
    scores = {}
    for method in args.methods:
        opts = ClusteringOptions(
            threshold=result.threshold, num_clusters=len(np.unique(y)) if method == "kmeans" else None
        )
        fd = clustering_scores(cluster_features(detected, method, opts), y)["pairwise_fscore"]
        fc = clustering_scores(cluster_features(direct, method, opts), y)["pairwise_fscore"]
        scores[method] = {"detected": round(fd, 4), "direct": round(fc, 4), "difference": round(fd - fc, 4)}
    report = {
        "photos": n_photos,
        "identities": len(ids),
        "found": len(first),
        "detection_rate": round(len(first) / n_photos, 4),
        "extra_detections": extra,
        "alignment_error_px_mean": round(float(np.mean(errs)), 2) if errs else None,
        "alignment_error_px_p95": round(float(np.percentile(errs, 95)), 2) if errs else None,
        "threshold": round(result.threshold, 4),
        "threshold_source": result.threshold_source,
        "pipeline_seconds": round(seconds, 1),
        "pipeline_photos_per_s": round(n_photos / seconds, 2),
        "pairwise_f": scores,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
