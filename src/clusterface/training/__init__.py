"""Training: the loop, checkpoints, distributed set-up."""

from clusterface.training.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    load_backbone,
    load_checkpoint,
    save_checkpoint,
)

__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "load_backbone", "load_checkpoint", "save_checkpoint"]
