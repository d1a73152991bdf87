"""The demo: SynthFaces -> train ArcFace and the full method on the same budget -> evaluate -> report.

``run_demo`` is what ``clusterface demo`` (and ``make demo``) runs. Both methods see the
same data, backbone, optimiser, schedule, seed and number of steps; they differ only in
the method sections of the config (``DEMO_METHODS``), so the report compares the method
and nothing else.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterface.config import Config, config_to_dict, load_config, merge_trees, save_config

# How to read the demo's side-by-side table: what the multi-seed study (docs/results.md) found.
DEMO_NOTE = (
    "One seed and a small budget (5 epochs, 270 training identities): differences here are within "
    "run-to-run noise, and one run cannot say which model is better. The multi-seed ablation study "
    "(`clusterface ablate`; docs/results.md in the repository: rows paired by seed, 600 identities) found "
    "**no detectable difference** between the full method and ArcFace on accuracy, TAR@FAR and clustering, "
    "both at the converged budget (10 epochs, 3-5 seeds, SynthFaces default and hard with 5 % label noise) "
    "and at a short one (2 epochs, 3-5 seeds, every ablation row); a validation-only sweep of the method's "
    "hyperparameters found no setting that beats its defaults."
)

# The demo's own defaults (applied under the user's --config and overrides). Sized so that the
# default demo finishes in about 10 minutes on a 2-core CPU; --quick in about 1 minute.
DEMO_DEFAULTS: dict[str, Any] = {
    "synth": {"root": "data/synthfaces-demo", "identities": 360, "test_fraction": 0.25},
    "data": {"source": "synth-disk", "workers": 2},
    "model": {"backbone": "cfnet_s", "embedding_dim": 512},
    "optim": {"lr": 0.1},
    "schedule": {"epochs": 5, "batch_size": 128},
    "checkpoint": {"keep": 1},
    "eval": {"every_epochs": 0},
    "objective": {"warmup_epochs": 1.0},
}
QUICK_DEFAULTS: dict[str, Any] = {
    "synth": {"root": "data/synthfaces-quick", "identities": 120, "images_median": 10, "images_max": 40},
    "schedule": {"epochs": 2, "batch_size": 64},
    "objective": {"warmup_epochs": 0.5},
}
# The two rows of the comparison: the ArcFace baseline and the full method (docs/method.md, Ablation rows 1 and 6).
DEMO_METHODS: dict[str, dict[str, Any]] = {
    "arcface": {
        "margin": {"kind": "arcface"},
        "objective": {"use_scc": False, "use_align": False, "use_momentum_encoder": False},
    },
    "full": {
        "margin": {"kind": "cluster_guided"},
        "objective": {"use_scc": True, "adaptive_temperature": True, "use_align": True, "use_momentum_encoder": True},
    },
}


@dataclass
class DemoResult:
    """Where the demo wrote its report and the headline metrics of each method."""

    out_dir: Path
    report: Path
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def demo_config(
    config_path: str | Path | None = None, overrides: list[str] | None = None, quick: bool = False
) -> Config:
    """Demo defaults (+ quick defaults) <- YAML <- overrides."""
    base = merge_trees(DEMO_DEFAULTS, QUICK_DEFAULTS) if quick else DEMO_DEFAULTS
    return load_config(config_path, overrides, base=base)


def _method_config(cfg: Config, method: str, out_dir: Path) -> Config:
    tree = config_to_dict(cfg)
    method_margin = DEMO_METHODS[method]["margin"]
    if tree["margin"]["kind"] != method_margin["kind"]:  # another kind has other fields: its defaults
        tree["margin"] = {}
    tree = merge_trees(tree, DEMO_METHODS[method])
    tree["runtime"]["out_dir"] = str(out_dir / method)
    return Config.model_validate(tree)


def run_demo(cfg: Config, out_dir: str | Path = "runs/demo", progress: bool = True) -> DemoResult:
    """Generate (or reuse) the data, train both methods, evaluate them and write the comparison report."""
    from clusterface.analysis import write_comparison_report, write_evaluation_report
    from clusterface.synth import generate_dataset
    from clusterface.training import train
    from clusterface.training.datasets import build_train_dataset
    from clusterface.workflows.evaluation import evaluate_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    _say(
        progress,
        f"[demo 1/4] SynthFaces: {cfg.synth.identities} identities, preset {cfg.synth.preset} -> {cfg.synth.root}",
    )
    paths = generate_dataset(cfg.synth, progress=progress)
    train_set = build_train_dataset(cfg)
    seconds["data"] = time.perf_counter() - t0

    evaluations = {}
    for i, method in enumerate(DEMO_METHODS, start=2):
        run_cfg = _method_config(cfg, method, out)
        _say(progress, f"[demo {i}/4] training {method} ({run_cfg.model.backbone}, {run_cfg.schedule.epochs} epochs)")
        t0 = time.perf_counter()
        result = train(run_cfg, train_set, out_dir=run_cfg.runtime.out_dir, progress=progress)
        seconds[f"train_{method}"] = time.perf_counter() - t0
        if result.status == "interrupted" or result.last_checkpoint is None:
            raise RuntimeError(
                f"demo: training {method} ended as {result.status!r}; its run is in {run_cfg.runtime.out_dir}"
            )
        t0 = time.perf_counter()
        evaluation = evaluate_model(
            result.last_checkpoint,
            bins=[paths.bin_path],
            cluster=paths.test_images_dir,
            name=method,
            batch_size=cfg.eval.batch_size,
            progress=progress,
        )
        write_evaluation_report(evaluation, out / method / "eval", title=f"Demo: {method}")
        seconds[f"evaluate_{method}"] = time.perf_counter() - t0
        evaluations[method] = evaluation

    _say(progress, "[demo 4/4] writing the comparison report")
    files = write_comparison_report(
        evaluations, out, title="clusterface demo: ArcFace vs the full method", note=DEMO_NOTE
    )
    result_metrics = {name: ev.metrics() for name, ev in evaluations.items()}
    (out / "timings.json").write_text(json.dumps(seconds, indent=2) + "\n")
    report = files["report"]
    _say(progress, f"demo report: {report}")
    return DemoResult(out_dir=out, report=report, metrics=result_metrics, seconds=seconds)


def _say(enabled: bool, text: str) -> None:
    if enabled:
        print(text, flush=True)
