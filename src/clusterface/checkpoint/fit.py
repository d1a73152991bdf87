"""Does a saved state dict fit a module? Checked before ``load_state_dict`` so a checkpoint of
another architecture, embedding size or class count is a ``CheckpointError`` naming the file and the
first differing tensor, not a RuntimeError listing every key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from clusterface.checkpoint.file import CheckpointError


def check_state_fits(path: str | Path, part: str, saved: dict[str, Any], module: nn.Module) -> None:
    """Raise ``CheckpointError`` naming ``path`` when ``saved`` (a state dict) has other keys or
    shapes than ``module`` expects."""
    current = module.state_dict()
    missing = [k for k in current if k not in saved]
    unexpected = [k for k in saved if k not in current]
    shapes = [
        (k, tuple(saved[k].shape), tuple(v.shape))
        for k, v in current.items()
        if k in saved and torch.is_tensor(saved[k]) and torch.is_tensor(v) and saved[k].shape != v.shape
    ]
    if not (missing or unexpected or shapes):
        return
    details = []
    if shapes:
        k, a, b = shapes[0]
        details.append(f"{len(shapes)} tensor(s) differ in shape, e.g. {k}: {a} in the checkpoint, {b} here")
    if missing:
        details.append(f"{len(missing)} missing, e.g. {missing[0]}")
    if unexpected:
        details.append(f"{len(unexpected)} unexpected, e.g. {unexpected[0]}")
    raise CheckpointError(
        f"{path}: its {part} does not fit this run ({'; '.join(details)}): it comes from another "
        "architecture, embedding size or number of classes; pass another run directory or --resume never"
    )
