"""Rebuild a backbone from a checkpoint alone (its stored config names the architecture)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from clusterface.checkpoint.file import load_checkpoint
from clusterface.checkpoint.fit import check_state_fits
from clusterface.config import Config, config_from_dict


def load_backbone(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, Config]:
    """Rebuild the backbone stored in a checkpoint from its own config; returns (model in eval mode, config)."""
    from clusterface.models import create_backbone

    state = load_checkpoint(path, map_location)
    config = config_from_dict(state["config"], source=str(path))
    model = create_backbone(
        config.model.backbone, embedding_dim=config.model.embedding_dim, dropout=config.model.dropout
    )
    check_state_fits(path, "backbone", state["backbone"], model)
    model.load_state_dict(state["backbone"])
    model.eval()
    return model, config
