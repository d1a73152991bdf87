"""Losses: SCC, cluster aligning and the joint objective (``build_objective``)."""

from clusterface.losses.align_loss import ClusterAlignLoss
from clusterface.losses.build import MARGIN_FACTORIES, build_margin, build_memory, build_objective, register_margin
from clusterface.losses.class_objective import ClassObjective, is_sharded
from clusterface.losses.joint_objective import JointObjective
from clusterface.losses.negative_sampling import sample_classes
from clusterface.losses.scc_loss import SCCLoss
from clusterface.losses.sharded_objective import ShardedJointObjective
from clusterface.losses.sharded_softmax import sharded_cross_entropy

__all__ = [
    "MARGIN_FACTORIES",
    "ClassObjective",
    "ClusterAlignLoss",
    "JointObjective",
    "SCCLoss",
    "ShardedJointObjective",
    "build_margin",
    "build_memory",
    "build_objective",
    "is_sharded",
    "register_margin",
    "sample_classes",
    "sharded_cross_entropy",
]
