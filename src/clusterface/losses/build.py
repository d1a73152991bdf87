"""``build_objective(cfg, num_classes)``: the joint objective of a config (every ablation row)."""

from __future__ import annotations

from collections.abc import Callable

from clusterface.config.schema import Config, MarginConfig
from clusterface.heads.arcface_margin import ArcFaceMargin
from clusterface.heads.cluster_guided_margin import ClusterGuidedMargin
from clusterface.heads.combined_margin import CombinedMargin
from clusterface.heads.cosface_margin import CosFaceMargin
from clusterface.heads.cosine_classifier import CosineClassifier
from clusterface.heads.margin import Margin
from clusterface.losses.align_loss import ClusterAlignLoss
from clusterface.losses.joint_objective import JointObjective
from clusterface.losses.scc_loss import SCCLoss
from clusterface.memory.class_centre_memory import ClassCentreMemory


def build_memory(cfg: Config, num_classes: int) -> ClassCentreMemory:
    """The class-centre memory of ``cfg`` (memory, margin and objective.temperature fields)."""
    mem, margin = cfg.memory, cfg.margin
    return ClassCentreMemory(
        num_classes,
        cfg.model.embedding_dim,
        centre_momentum=mem.centre_momentum,
        alpha=mem.alpha,
        concentration_kind=mem.concentration,
        clip_percentiles=mem.clip_percentiles,
        base_margin=margin.margin,
        margin_delta=margin.delta,
        margin_beta=margin.beta,
        margin_smoothing=margin.smoothing,
        base_temperature=cfg.objective.temperature,
    )


def _cluster_guided(m: MarginConfig, memory: ClassCentreMemory | None) -> Margin:
    if memory is None:
        raise ValueError("the cluster-guided margin needs a ClassCentreMemory")
    return ClusterGuidedMargin(memory, m.margin)


# margin.kind -> factory(margin config, memory or None); a new margin is one more entry.
MARGIN_FACTORIES: dict[str, Callable[[MarginConfig, ClassCentreMemory | None], Margin]] = {
    "arcface": lambda m, _: ArcFaceMargin(m.margin),
    "cosface": lambda m, _: CosFaceMargin(m.margin),
    "combined": lambda m, _: CombinedMargin(m.multiplicative_angular, m.additive_angular, m.additive_cosine),
    "cluster_guided": _cluster_guided,
}


def build_margin(cfg: Config, memory: ClassCentreMemory | None) -> Margin:
    """The margin object named by ``cfg.margin.kind``."""
    return MARGIN_FACTORIES[cfg.margin.kind](cfg.margin, memory)


def build_objective(cfg: Config, num_classes: int) -> JointObjective:
    """JointObjective for ``cfg`` and ``num_classes`` classes (METHOD.md, Ablation rows).

    The memory exists only when something reads it (cluster-guided margin, SCC or align),
    so the ArcFace/CosFace baselines carry no C x d centre buffers.
    """
    obj = cfg.objective
    needs_memory = cfg.margin.kind == "cluster_guided" or obj.use_scc or obj.use_align
    memory = build_memory(cfg, num_classes) if needs_memory else None
    classifier = CosineClassifier(num_classes, cfg.model.embedding_dim, build_margin(cfg, memory), cfg.margin.scale)
    return JointObjective(
        classifier,
        memory,
        scc=SCCLoss(obj.temperature, adaptive=obj.adaptive_temperature) if obj.use_scc else None,
        align=ClusterAlignLoss() if obj.use_align else None,
        lambda_scc=obj.lambda_scc,
        lambda_align=obj.lambda_align,
        warmup_epochs=obj.warmup_epochs,
        num_negatives=obj.num_negatives,
        use_momentum_encoder=obj.use_momentum_encoder,
        momentum_every_steps=obj.momentum_every_steps,
        seed=cfg.train.seed,
    )
