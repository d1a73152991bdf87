"""Checkpoint files: atomic writes and safe loads.

A checkpoint is a dict saved with ``torch.save`` that holds only tensors and plain
Python values, so it loads with ``torch.load(weights_only=True)``. Required keys:
``format`` (``CHECKPOINT_FORMAT``), ``config`` (the resolved config as a plain dict) and
``backbone`` (the backbone's state dict). The trainer adds optimiser, scheduler, head,
memory, momentum encoder, sampler and RNG state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_FORMAT = "clusterface-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` atomically: temporary file, fsync, rename (a crash leaves the old file intact)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": CHECKPOINT_FORMAT, **state}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no code can run) and check its format."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or unsafe files
        raise CheckpointError(f"{path}: cannot load checkpoint ({err})") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a clusterface checkpoint (expected format {CHECKPOINT_FORMAT})")
    for key in ("config", "backbone"):
        if key not in state:
            raise CheckpointError(f"{path}: checkpoint lacks {key!r}")
    return state


def checkpoint_is_finite(state: dict[str, Any], keys: tuple[str, ...] = ("backbone", "objective")) -> bool:
    """True when every floating tensor under ``keys`` (state dicts) is finite."""
    for key in keys:
        for value in (state.get(key) or {}).values():
            if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
                return False
    return True
