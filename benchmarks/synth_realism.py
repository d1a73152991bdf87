"""Realism of SynthFaces, judged by a face model trained on real faces (dlib's ResNet descriptor).

For every verification pair of a generated test split, both 112x112 crops are resized to
150x150 RGB chips, described by ``dlib.face_recognition_model_v1`` (128-d, weights CC0,
from PyPI ``face_recognition_models``) and compared by Euclidean distance. Accuracy is
10-fold (LFW protocol: folds in file order, threshold chosen on 9 folds, accuracy on the
10th), reported for all pairs and for near-frontal pairs (|yaw| <= --frontal-yaw for both
images; poses come from the dataset's images.csv). Impostors are also scored by kind: with the
all-pairs threshold of each fold, the fraction of look-alike impostors (two members of one
family) and of random impostors that are rejected, plus the mean distance of each kind.

Benchmark-only dependencies (never imported by the package):
    .venv/bin/pip install dlib-bin face_recognition_models   # or: pip install -e ".[realism]"

Run:
    .venv/bin/python benchmarks/synth_realism.py --out runs/synth_realism --identities 400 --preset default
    .venv/bin/python benchmarks/synth_realism.py --data data/synthfaces          # an existing dataset
``--pairs-per-fold N`` scores N genuine and N impostor pairs of each fold, evenly spaced (faster).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import time
from pathlib import Path

import cv2
import numpy as np

from clusterface.config.schema import SynthConfig
from clusterface.synth import generate_dataset, parse_pairs_text, synth_paths
from clusterface.synth.plan import folder_name


def dlib_model() -> object:
    """dlib's face descriptor; the weights file is found without importing face_recognition_models
    (its __init__ needs pkg_resources, which recent setuptools no longer ships)."""
    import dlib

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install dlib-bin face_recognition_models  (benchmark-only dependencies)")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "dlib_face_recognition_resnet_model_v1.dat"
    return dlib.face_recognition_model_v1(str(path))


def ten_fold_accuracy(dist: np.ndarray, same: np.ndarray, folds: int = 10) -> tuple[float, float, np.ndarray]:
    """LFW 10-fold accuracy of distance thresholds: folds in order, threshold picked on the other 9.

    Returns mean and std of the per-fold accuracies and the (folds,) thresholds used.
    """
    idx = np.array_split(np.arange(len(dist)), folds)
    accs, thresholds = [], []
    for k in range(folds):
        train = np.concatenate([idx[j] for j in range(folds) if j != k])
        cands = np.unique(dist[train])
        cands = np.concatenate([cands, [cands[-1] + 1e-6]])
        acc_train = [((dist[train] < t) == same[train]).mean() for t in cands]
        t_best = cands[int(np.argmax(acc_train))]
        thresholds.append(t_best)
        accs.append(((dist[idx[k]] < t_best) == same[idx[k]]).mean())
    return float(np.mean(accs)), float(np.std(accs)), np.array(thresholds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="an existing SynthFaces dataset (skips generation)")
    ap.add_argument("--out", type=Path, default=Path("runs/synth_realism"))
    ap.add_argument("--identities", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--images-median", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pairs-per-fold", type=int, default=None)
    ap.add_argument("--frontal-yaw", type=float, default=15.0)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    if args.data is None:
        cfg = SynthConfig(root=args.out, identities=args.identities, seed=args.seed, preset=args.preset,
                          images_median=args.images_median, workers=args.workers)  # fmt: skip
        paths = generate_dataset(cfg, progress=True)
    else:
        paths = synth_paths(args.data)
    folds, per_fold, pairs = parse_pairs_text(paths.pairs_path.read_text())
    take = per_fold if args.pairs_per_fold is None else min(per_fold, args.pairs_per_fold)
    chosen = []
    # evenly spaced within each half: a fold lists its look-alike impostors first, so the first N
    # impostors would over-represent them
    spread = np.linspace(0, per_fold - 1, take).round().astype(int).tolist()
    for f in range(folds):
        base = 2 * per_fold * f
        chosen += [pairs[base + i] for i in spread] + [pairs[base + per_fold + i] for i in spread]
    yaw, family = {}, {}
    with paths.images_csv.open() as fh:
        for row in csv.DictReader(fh):
            if row["split"] == "test":
                yaw[row["path"]] = float(row["yaw"])
                family[folder_name(int(row["identity"]))] = int(row["family"])  # test has no label noise

    model = dlib_model()
    needed = sorted({(a, na) for a, na, _, _ in chosen} | {(b, nb) for _, _, b, nb in chosen})
    start = time.perf_counter()
    desc: dict[tuple[str, int], np.ndarray] = {}
    batch = 32
    for i in range(0, len(needed), batch):
        keys = needed[i : i + batch]
        chips = []
        for name, n in keys:
            bgr = cv2.imread(str(paths.test_images_dir / name / f"{n}.jpg"), cv2.IMREAD_COLOR)
            chips.append(np.ascontiguousarray(cv2.resize(bgr, (150, 150), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]))
        for key, d in zip(keys, model.compute_face_descriptor(chips), strict=True):  # type: ignore[attr-defined]
            desc[key] = np.asarray(d, np.float64)
    seconds = time.perf_counter() - start

    dist = np.array([np.linalg.norm(desc[(a, na)] - desc[(b, nb)]) for a, na, b, nb in chosen])
    same = np.array([a == b for a, _, b, _ in chosen])
    acc, std, thresholds = ten_fold_accuracy(dist, same)
    fold_of = np.concatenate([np.full(len(ix), k) for k, ix in enumerate(np.array_split(np.arange(len(dist)), 10))])
    rejected = dist >= thresholds[fold_of]  # each pair judged with its own fold's threshold
    lookalike = np.array([a != b and family.get(a, -1) == family.get(b, -2) for a, _, b, _ in chosen])
    random_imp = ~same & ~lookalike

    def rel(name: str, n: int) -> str:
        return f"test/images/{name}/{n}.jpg"

    frontal = np.array(
        [
            abs(yaw[rel(a, na)]) <= args.frontal_yaw and abs(yaw[rel(b, nb)]) <= args.frontal_yaw
            for a, na, b, nb in chosen
        ]
    )
    # near-frontal pairs are not balanced per fold, so score them by 10-fold on their own subsequence
    acc_f, std_f = ten_fold_accuracy(dist[frontal], same[frontal])[:2] if frontal.sum() >= 20 else (float("nan"), 0.0)
    result = {
        "dataset": str(paths.root),
        "pairs": len(chosen),
        "pairs_per_fold_used": take,
        "accuracy_all": round(acc, 4),
        "accuracy_all_std": round(std, 4),
        "frontal_pairs": int(frontal.sum()),
        "accuracy_frontal": round(acc_f, 4),
        "accuracy_frontal_std": round(std_f, 4),
        "genuine_accepted": round(float((~rejected[same]).mean()), 4),
        "lookalike_impostors": int(lookalike.sum()),
        "lookalike_rejected": round(float(rejected[lookalike].mean()), 4) if lookalike.any() else float("nan"),
        "random_rejected": round(float(rejected[random_imp].mean()), 4),
        "genuine_distance_mean": round(float(dist[same].mean()), 4),
        "impostor_distance_mean": round(float(dist[~same].mean()), 4),
        "lookalike_distance_mean": round(float(dist[lookalike].mean()), 4) if lookalike.any() else float("nan"),
        "random_distance_mean": round(float(dist[random_imp].mean()), 4),
        "dlib_threshold_0.6_accuracy": round(float(((dist < 0.6) == same).mean()), 4),
        "images_described": len(needed),
        "describe_seconds": round(seconds, 1),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
