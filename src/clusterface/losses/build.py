"""``build_objective(cfg, num_classes)``: the joint objective of a config (every ablation row)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from clusterface.config.schema import (
    MARGIN_CONFIGS,
    ArcFaceMarginConfig,
    ClusterGuidedMarginConfig,
    CombinedMarginConfig,
    Config,
    CosFaceMarginConfig,
    MarginConfig,
)
from clusterface.heads.arcface_margin import ArcFaceMargin
from clusterface.heads.cluster_guided_margin import ClusterGuidedMargin
from clusterface.heads.combined_margin import CombinedMargin
from clusterface.heads.cosface_margin import CosFaceMargin
from clusterface.heads.cosine_classifier import CosineClassifier
from clusterface.heads.margin import Margin
from clusterface.losses.align_loss import ClusterAlignLoss
from clusterface.losses.joint_objective import JointObjective
from clusterface.losses.scc_loss import SCCLoss
from clusterface.losses.sharded_objective import ShardedJointObjective
from clusterface.memory.class_centre_memory import ClassCentreMemory
from clusterface.memory.class_partition import ClassPartition, init_rows_like_full


def build_memory(cfg: Config, num_classes: int) -> ClassCentreMemory:
    """The class-centre memory of ``cfg`` (memory, margin and objective.temperature fields).

    The per-class margins it keeps follow the cluster-guided margin section; with another margin
    kind they are kept at that section's defaults (nothing reads them then).
    """
    mem = cfg.memory
    margin = cfg.margin if isinstance(cfg.margin, ClusterGuidedMarginConfig) else ClusterGuidedMarginConfig()
    return ClassCentreMemory(
        num_classes,
        cfg.model.embedding_dim,
        centre_momentum=mem.centre_momentum,
        alpha=mem.alpha,
        concentration_kind=mem.concentration,
        clip_percentiles=mem.clip_percentiles,
        base_margin=margin.m0,
        margin_delta=margin.delta,
        margin_beta=margin.beta,
        margin_smoothing=margin.smoothing,
        base_temperature=cfg.objective.temperature,
    )


MarginFactory = Callable[[Any, ClassCentreMemory | None], Margin]  # (its margin section, memory or None)


def _cluster_guided(m: ClusterGuidedMarginConfig, memory: ClassCentreMemory | None) -> Margin:
    if memory is None:
        raise ValueError("the cluster-guided margin needs a ClassCentreMemory")
    return ClusterGuidedMargin(memory, m.m0)


def _arcface(m: ArcFaceMarginConfig, _: ClassCentreMemory | None) -> Margin:
    return ArcFaceMargin(m.m)


def _cosface(m: CosFaceMarginConfig, _: ClassCentreMemory | None) -> Margin:
    return CosFaceMargin(m.m)


def _combined(m: CombinedMarginConfig, _: ClassCentreMemory | None) -> Margin:
    return CombinedMargin(m.multiplicative_angular, m.additive_angular, m.additive_cosine)


#: margin.kind -> factory(its margin section, memory or None); the kinds of config.MARGIN_CONFIGS.
MARGIN_FACTORIES: dict[str, MarginFactory] = {
    "arcface": _arcface,
    "cosface": _cosface,
    "combined": _combined,
    "cluster_guided": _cluster_guided,
}


def register_margin(kind: str, config_cls: type[MarginConfig], factory: MarginFactory) -> None:
    """Add a margin: its config section class (validates ``margin`` when ``kind`` names it) and its factory."""
    MARGIN_CONFIGS[kind] = config_cls
    MARGIN_FACTORIES[kind] = factory


def build_margin(cfg: Config, memory: ClassCentreMemory | None) -> Margin:
    """The margin object named by ``cfg.margin.kind``."""
    return MARGIN_FACTORIES[cfg.margin.kind](cfg.margin, memory)


def build_objective(cfg: Config, num_classes: int) -> JointObjective:
    """The objective for ``cfg`` and ``num_classes`` classes (docs/method.md, Ablation rows and Scale).

    The memory exists only when something reads it (cluster-guided margin, SCC or align),
    so the ArcFace/CosFace baselines carry no C x d centre buffers.
    ``objective.sharding=classes`` builds a ``ShardedJointObjective`` holding this rank's class
    range of the initialised process group (all classes at world size 1); its W rows are the
    replicated initialisation's rows, drawn from the same RNG stream.
    ``objective.sample_rate`` < 1 in the replicated objective samples ceil(rate * C) columns
    (the ``num_negatives`` mechanism).
    """
    obj = cfg.objective
    needs_memory = cfg.margin.kind == "cluster_guided" or obj.use_scc or obj.use_align
    common: dict[str, Any] = {
        "scc": SCCLoss(obj.temperature, adaptive=obj.adaptive_temperature) if obj.use_scc else None,
        "align": ClusterAlignLoss() if obj.use_align else None,
        "lambda_scc": obj.lambda_scc,
        "lambda_align": obj.lambda_align,
        "warmup_epochs": obj.warmup_epochs,
        "use_momentum_encoder": obj.use_momentum_encoder,
        "momentum_every_steps": obj.momentum_every_steps,
        "seed": cfg.runtime.seed,
    }
    dim = cfg.model.embedding_dim
    if obj.sharding == "classes":
        partition = ClassPartition.current(num_classes)
        memory = build_memory(cfg, partition.size) if needs_memory else None
        weight = init_rows_like_full(partition, dim, 0.01)
        classifier = CosineClassifier(partition.size, dim, build_margin(cfg, memory), cfg.margin.scale, weight)
        return ShardedJointObjective(
            classifier, memory, partition, sample_rate=obj.sample_rate, num_negatives=None, **common
        )
    memory = build_memory(cfg, num_classes) if needs_memory else None
    classifier = CosineClassifier(num_classes, dim, build_margin(cfg, memory), cfg.margin.scale)
    num_negatives = obj.num_negatives
    if obj.sample_rate < 1.0:
        num_negatives = math.ceil(obj.sample_rate * num_classes)
    return JointObjective(classifier, memory, num_negatives=num_negatives, **common)
