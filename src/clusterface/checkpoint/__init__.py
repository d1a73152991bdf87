"""Checkpoint files (atomic save, safe load) and rebuilding a backbone from one; used by training and evaluation."""

from clusterface.checkpoint.backbone import load_backbone
from clusterface.checkpoint.file import (
    CHECKPOINT_FORMAT,
    CHECKSUM_KEY,
    CheckpointError,
    checkpoint_is_finite,
    load_checkpoint,
    save_checkpoint,
    state_digest,
)
from clusterface.checkpoint.fit import check_state_fits

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKSUM_KEY",
    "CheckpointError",
    "check_state_fits",
    "checkpoint_is_finite",
    "load_backbone",
    "load_checkpoint",
    "save_checkpoint",
    "state_digest",
]
