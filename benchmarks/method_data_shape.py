"""How the method's per-class hyperparameters meet the data's shape and the run's length.

Two parts, both written to one small JSON with the command line:

* ``--schedule`` (no training, no pixels): from a SynthFaces plan and the batch sampler, how
  many steps each class appears in per epoch, the centre EMA's horizon that gamma gives in
  epochs, and how many classes the warm-up has seen (``memory.centre_momentum``,
  ``objective.warmup_epochs``).
* ``--checkpoint`` (analysis of a trained full-method run, no training): momentum-encoder
  features of the training images; per class phi (PCL, rms variant as the memory computes it),
  its bootstrap noise (resampling each class's images with replacement, as if the window had
  drawn other images of the same identity), the resulting margin noise after fill/clip/
  standardise, how strongly phi follows the class's image count, and how many classes sit at
  the clip bounds.

    .venv/bin/python benchmarks/method_data_shape.py --schedule synth.identities=600 synth.val_fraction=0.1 \
        schedule.batch_size=128 --json results/method/schedule_sf600.json
    .venv/bin/python benchmarks/method_data_shape.py --checkpoint runs/horizon/full_horizon/checkpoints/last.pt \
        --json results/method/concentration_sf600.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from clusterface.config import Config, load_config
from clusterface.config.schema import ClusterGuidedMarginConfig
from clusterface.memory import cluster_guided_margins, concentration_rms, fill_and_clip
from clusterface.training.sampler import ResumableDistributedBatchSampler

N_BINS = ((2, 5), (6, 10), (11, 20), (21, 50), (51, 10_000))


def _bin_name(lo: int, hi: int) -> str:
    return f"{lo}-{hi}" if hi < 10_000 else f">={lo}"


def _quantiles(x: np.ndarray) -> dict[str, float]:
    q = np.quantile(x, [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
    return dict(zip(("min", "p10", "p25", "median", "p75", "p90", "max"), (round(float(v), 4) for v in q), strict=True))


def schedule_stats(cfg: Config, labels: np.ndarray, epochs: int = 3) -> dict[str, object]:
    """Appearances per epoch of each class (steps whose batch holds it), gamma's horizon, warm-up coverage."""
    num_classes = int(labels.max()) + 1
    counts = np.bincount(labels, minlength=num_classes)
    b = cfg.schedule.batch_size
    sampler = ResumableDistributedBatchSampler(len(labels), b, seed=cfg.runtime.seed)
    spe = sampler.steps_per_epoch
    appear = np.zeros((epochs, num_classes))
    first_seen = np.full(num_classes, np.inf)
    for e in range(epochs):
        sampler.set_epoch(e)
        for t, idx in enumerate(sampler):
            present = np.unique(labels[np.asarray(idx)])
            appear[e, present] += 1
            if e == 0:
                first_seen[present] = np.minimum(first_seen[present], t)
    per_epoch = appear.mean(axis=0)
    gamma = cfg.memory.centre_momentum
    horizon_appearances = 1.0 / (1.0 - gamma)  # mean age of an EMA: sum_j j (1-g) g^j = g/(1-g) ~ 1/(1-g)
    horizon_epochs = horizon_appearances / np.maximum(per_epoch, 1e-9)
    by_n = {}
    for lo, hi in N_BINS:
        sel = (counts >= lo) & (counts <= hi)
        if sel.any():
            by_n[_bin_name(lo, hi)] = {
                "classes": int(sel.sum()),
                "appearances_per_epoch_median": round(float(np.median(per_epoch[sel])), 2),
                "gamma_horizon_epochs_median": round(float(np.median(horizon_epochs[sel])), 3),
            }
    warm = {}
    for frac in (0.1, 0.25, 0.5, 1.0):
        steps = round(frac * spe)
        warm[f"{frac:g}"] = {"steps": steps, "classes_seen_fraction": round(float((first_seen < steps).mean()), 4)}
    return {
        "train_images": len(labels),
        "classes": num_classes,
        "images_per_class": _quantiles(counts),
        "batch_size": b,
        "steps_per_epoch": spe,
        "centre_momentum": gamma,
        "gamma_horizon_appearances": round(horizon_appearances, 2),
        "appearances_per_epoch": _quantiles(per_epoch),
        "gamma_horizon_epochs": _quantiles(horizon_epochs),
        "classes_with_gamma_horizon_over_1_epoch": round(float((horizon_epochs > 1).mean()), 4),
        "classes_with_gamma_horizon_over_run": round(float((horizon_epochs > cfg.schedule.epochs).mean()), 4),
        "run_epochs": cfg.schedule.epochs,
        "by_images_per_class": by_n,
        "warmup_coverage": warm,
        "objective_warmup_epochs": cfg.objective.warmup_epochs,
        "objective_warmup_steps": int(np.ceil(cfg.objective.warmup_epochs * spe)),
        "lr_warmup_steps": round(cfg.schedule.warmup_epochs * spe),
        "total_steps": cfg.schedule.epochs * spe,
    }


def _phi(
    features: torch.Tensor, labels: torch.Tensor, num_classes: int, alpha: float
) -> tuple[torch.Tensor, torch.Tensor]:
    sums = torch.zeros(num_classes, features.shape[1], dtype=features.dtype).index_add_(0, labels, features)
    counts = torch.bincount(labels, minlength=num_classes)
    return concentration_rms(sums, counts, alpha), counts


def _difficulty_correlations(cfg: Config, num_classes: int, values: dict[str, np.ndarray]) -> dict[str, float] | None:
    """Spearman of per-class values with SynthFaces' per-identity nuisance spread (``difficulty`` in images.csv).

    Which classes the margin reaches: the identities that are hard by construction, or something else.
    """
    import csv

    if cfg.data.source not in ("synth", "synth-disk"):
        return None
    path = Path(cfg.synth.root) / "images.csv"
    if not path.is_file():
        return None
    difficulty: dict[int, float] = {}
    for row in csv.DictReader(path.open()):
        if row["split"] == "train":
            difficulty[int(row["identity"])] = float(row["difficulty"])
    from clusterface.synth import build_plan

    ids = build_plan(cfg.synth).train_ids.tolist()[:num_classes]  # label k = k-th sorted train identity
    d = np.array([difficulty[i] for i in ids])
    return {k: round(float(stats.spearmanr(v[: len(d)], d).statistic), 4) for k, v in values.items()}


def concentration_stats(
    checkpoint: Path, replicates: int, seed: int, max_classes: int | None = None
) -> dict[str, object]:
    from clusterface.evaluation import extract_embeddings
    from clusterface.evaluation.embedder import TorchEmbedder
    from clusterface.training import build_train_dataset, load_backbone, load_checkpoint

    sys.path.insert(0, str(Path(__file__).parent))
    from momentum_vs_online import momentum_backbone

    _, cfg = load_backbone(checkpoint)
    state = load_checkpoint(checkpoint)
    data = build_train_dataset(cfg)
    labels_all = np.asarray(data.labels, np.int64)  # type: ignore[attr-defined]
    keep = np.arange(len(labels_all)) if max_classes is None else np.nonzero(labels_all < max_classes)[0]
    labels_np = labels_all[keep]
    t0 = time.perf_counter()
    images = torch.stack([data[int(i)][0] for i in keep])
    feats = extract_embeddings(
        TorchEmbedder(momentum_backbone(checkpoint)), images, flip=False, batch_size=256, desc="momentum features"
    )
    extract_s = time.perf_counter() - t0
    z = torch.from_numpy(feats).double()
    labels = torch.from_numpy(labels_np)
    c = int(labels.max()) + 1
    mem = cfg.memory
    margin = cfg.margin
    if not isinstance(margin, ClusterGuidedMarginConfig):
        raise SystemExit(f"{checkpoint}: margin.kind is {margin.kind}; this analysis needs a cluster_guided run")
    phi, counts = _phi(z, labels, c, mem.alpha)
    valid = counts > 0
    pct = tuple(mem.clip_percentiles)
    phi_t = fill_and_clip(phi, counts, valid, pct)  # type: ignore[arg-type]
    margins = cluster_guided_margins(phi_t, valid, margin.m0, margin.delta, margin.beta)
    # the dispersion alone, before the division by log(n_k + alpha)
    sums = torch.zeros(c, z.shape[1], dtype=z.dtype).index_add_(0, labels, z)
    spread = torch.sqrt((2 * (1 - sums.norm(dim=1) / counts.clamp_min(1))).clamp_min(0))
    # bootstrap: resample every class's images with replacement, recompute phi, phi~ and m for all classes
    rng = np.random.default_rng(seed)
    members = [np.nonzero(labels_np == k)[0] for k in range(c)]
    boot_phi = np.zeros((replicates, c))
    boot_m = np.zeros((replicates, c))
    for r in range(replicates):
        idx = np.concatenate([m[rng.integers(0, len(m), len(m))] for m in members])
        p, n = _phi(z[idx], labels[idx], c, mem.alpha)
        boot_phi[r] = p.numpy()
        boot_m[r] = cluster_guided_margins(
            fill_and_clip(p, n, n > 0, pct), n > 0, margin.m0, margin.delta, margin.beta
        ).numpy()
    phi_np, m_np, n_np = phi.numpy(), margins.numpy(), counts.numpy()
    phi_sd, m_sd = boot_phi.std(axis=0), boot_m.std(axis=0)
    between_var = float(phi_np.var())
    noise_var = float((phi_sd**2).mean())
    lo_b, hi_b = float(phi_t.min()), float(phi_t.max())
    at_low = phi_t.numpy() <= lo_b + 1e-12
    at_high = phi_t.numpy() >= hi_b - 1e-12
    m0, delta = margin.m0, margin.delta
    at_margin_bounds = (m_np <= m0 - delta + 1e-6) | (m_np >= m0 + delta - 1e-6)
    by_n = {}
    for lo, hi in N_BINS:
        sel = (n_np >= lo) & (n_np <= hi)
        if sel.any():
            by_n[_bin_name(lo, hi)] = {
                "classes": int(sel.sum()),
                "phi_median": round(float(np.median(phi_np[sel])), 4),
                "phi_bootstrap_sd_median": round(float(np.median(phi_sd[sel])), 4),
                "phi_bootstrap_cv_median": round(float(np.median(phi_sd[sel] / phi_np[sel])), 4),
                "margin_median": round(float(np.median(m_np[sel])), 4),
                "margin_bootstrap_sd_median": round(float(np.median(m_sd[sel])), 4),
                "at_upper_clip": int((at_high & sel).sum()),
                "at_lower_clip": int((at_low & sel).sum()),
            }
    spread_np = spread.numpy()
    memory_state = state["objective"]
    stored = {k.rsplit(".", 1)[-1]: v for k, v in memory_state.items() if k.startswith("memory.")}
    stored_phi = stored.get("concentration")
    stored_info = {}
    if stored_phi is not None:
        sp = stored_phi.double().numpy()[:c]
        stored_info = {
            "at_upper_clip": int((sp >= sp.max() - 1e-9).sum()),
            "at_lower_clip": int((sp <= sp.min() + 1e-9).sum()),
            "classes": len(sp),
            "spearman_vs_recomputed_phi": round(float(stats.spearmanr(sp, phi_t.numpy()).statistic), 4),
        }
    return {
        "checkpoint": str(checkpoint),
        "classes": c,
        "images": len(labels_np),
        "feature_extraction_seconds": round(extract_s, 1),
        "alpha": mem.alpha,
        "clip_percentiles": list(pct),
        "bootstrap_replicates": replicates,
        "phi": _quantiles(phi_np),
        "phi_between_class_sd": round(between_var**0.5, 5),
        "phi_bootstrap_noise_sd_rms": round(noise_var**0.5, 5),
        "phi_reliability": round(1 - noise_var / between_var, 4),
        "margin_bootstrap_sd": _quantiles(m_sd),
        "margin_between_class_sd": round(float(m_np.std()), 5),
        "margin_reliability": round(1 - float((m_sd**2).mean()) / float(m_np.var()), 4),
        "spearman_phi_vs_images": round(float(stats.spearmanr(phi_np, n_np).statistic), 4),
        "spearman_spread_vs_images": round(float(stats.spearmanr(spread_np, n_np).statistic), 4),
        "spearman_margin_vs_images": round(float(stats.spearmanr(m_np, n_np).statistic), 4),
        "vs_synth_difficulty": _difficulty_correlations(cfg, c, {"phi": phi_np, "spread": spread_np, "margin": m_np}),
        "clip": {
            "lower_bound": round(lo_b, 5),
            "upper_bound": round(hi_b, 5),
            "at_lower": int(at_low.sum()),
            "at_upper": int(at_high.sum()),
            "images_per_class_at_upper": _quantiles(n_np[at_high]) if at_high.any() else None,
            "images_per_class_at_lower": _quantiles(n_np[at_low]) if at_low.any() else None,
            "margin_at_bounds_fraction": round(float(at_margin_bounds.mean()), 4),
        },
        "stored_memory": stored_info,
        "by_images_per_class": by_n,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedule", nargs="*", metavar="OVERRIDE", help="config overrides (synth.*, train.*)")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-classes", type=int, default=None, help="only the first N classes (a quick look)")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out: dict[str, object] = {"command": "python " + " ".join(shlex.quote(a) for a in sys.argv)}
    if args.schedule is not None:
        from clusterface.synth import build_plan

        cfg = load_config(args.config, args.schedule)
        plan = build_plan(cfg.synth)
        index = {int(i): k for k, i in enumerate(plan.train_ids.tolist())}
        labels = np.array([index[r.folder] for r in plan.train], np.int64)
        out["schedule"] = schedule_stats(cfg, labels)
    if args.checkpoint is not None:
        out["concentration"] = concentration_stats(args.checkpoint, args.replicates, args.seed, args.max_classes)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
