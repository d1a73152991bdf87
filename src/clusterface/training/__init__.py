"""Training: the loop, checkpoint rotation, distributed set-up.

The checkpoint file functions live in ``clusterface.checkpoint``; they are re-exported here
because resuming and inspecting runs is part of training's public API.
"""

from clusterface.checkpoint import CHECKPOINT_FORMAT, CheckpointError, load_backbone, load_checkpoint, save_checkpoint
from clusterface.training.checkpoint import CheckpointRotation
from clusterface.training.datasets import build_train_dataset, register_train_source, verification_bin_path
from clusterface.training.distributed import DistContext, LostRankError, init_distributed, shutdown_distributed
from clusterface.training.nonfinite import NonFiniteLossError
from clusterface.training.optim import build_optimizer, build_scheduler, lr_factor
from clusterface.training.sampler import ResumableDistributedBatchSampler
from clusterface.training.signals import EXIT_CODES
from clusterface.training.trainer import Trainer, TrainingDataError, TrainResult, train

__all__ = [
    "CHECKPOINT_FORMAT",
    "EXIT_CODES",
    "CheckpointError",
    "CheckpointRotation",
    "DistContext",
    "LostRankError",
    "NonFiniteLossError",
    "ResumableDistributedBatchSampler",
    "TrainResult",
    "Trainer",
    "TrainingDataError",
    "build_optimizer",
    "build_scheduler",
    "build_train_dataset",
    "init_distributed",
    "load_backbone",
    "load_checkpoint",
    "lr_factor",
    "register_train_source",
    "save_checkpoint",
    "shutdown_distributed",
    "train",
    "verification_bin_path",
]
