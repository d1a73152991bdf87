"""Losses: SCC, cluster aligning and the joint objective (``build_objective``)."""

from clusterface.losses.align_loss import ClusterAlignLoss
from clusterface.losses.build import MARGIN_FACTORIES, build_margin, build_memory, build_objective, register_margin
from clusterface.losses.joint_objective import JointObjective
from clusterface.losses.negative_sampling import sample_classes
from clusterface.losses.scc_loss import SCCLoss

__all__ = [
    "MARGIN_FACTORIES",
    "ClusterAlignLoss",
    "JointObjective",
    "SCCLoss",
    "build_margin",
    "build_memory",
    "build_objective",
    "register_margin",
    "sample_classes",
]
