"""Per-class state (class-centre memory, concentration) and the momentum encoder."""

from clusterface.memory.class_centre_memory import ClassCentreMemory
from clusterface.memory.class_partition import ClassPartition, class_range, init_rows_like_full
from clusterface.memory.concentration import (
    adaptive_temperatures,
    cluster_guided_margins,
    concentration_mean_distance,
    concentration_rms,
    fill_and_clip,
    standardise,
)
from clusterface.memory.momentum_encoder import MomentumEncoder, horizon_momentum, warmup_end_step

__all__ = [
    "ClassCentreMemory",
    "ClassPartition",
    "MomentumEncoder",
    "adaptive_temperatures",
    "class_range",
    "cluster_guided_margins",
    "concentration_mean_distance",
    "concentration_rms",
    "fill_and_clip",
    "horizon_momentum",
    "init_rows_like_full",
    "standardise",
    "warmup_end_step",
]
