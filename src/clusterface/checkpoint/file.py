"""Checkpoint files: atomic writes and safe loads.

A checkpoint is a dict saved with ``torch.save`` that holds only tensors and plain
Python values, so it loads with ``torch.load(weights_only=True)``. Required keys:
``format`` (``CHECKPOINT_FORMAT``), ``config`` (the resolved config as a plain dict) and
``backbone`` (the backbone's state dict). The trainer adds optimiser, scheduler, head,
memory, momentum encoder, sampler and RNG state.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_FORMAT = "clusterface-checkpoint/1"
#: Key of the content checksum ``{"algorithm": "sha256", "digest": hex}`` added by ``save_checkpoint``.
CHECKSUM_KEY = "checksum"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file."""


def _feed(h: Any, obj: Any) -> None:
    """Hash ``obj`` (nested dicts / lists / tuples of tensors and plain values) in a fixed order."""
    if torch.is_tensor(obj):
        t = obj.detach()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.numel():
            flat = t.to("cpu").contiguous().reshape(-1)
            h.update(flat.view(torch.uint8).numpy().data)  # the bytes in place, no copy
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}".encode())
        for key, value in obj.items():
            _feed(h, key)
            _feed(h, value)
    elif isinstance(obj, list | tuple):
        h.update(f"{type(obj).__name__[0]}{len(obj)}".encode())
        for value in obj:
            _feed(h, value)
    else:  # int, float, str, bool, None, torch.Size, dtypes: repr is exact and stable
        h.update(f"V{type(obj).__name__}:{obj!r};".encode())


def state_digest(state: dict[str, Any]) -> str:
    """sha256 over every key and value of a checkpoint payload (tensor bytes included), whatever
    its parts are: a flipped bit anywhere in the saved state changes it. ``CHECKSUM_KEY`` is left out."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != CHECKSUM_KEY})
    return h.hexdigest()


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` atomically: temporary file, fsync, rename (a crash leaves the old file intact)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": CHECKPOINT_FORMAT, **{k: v for k, v in state.items() if k != CHECKSUM_KEY}}
    state[CHECKSUM_KEY] = {"algorithm": "sha256", "digest": state_digest(state)}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch reports a failed write (ENOSPC, EFBIG) as RuntimeError
        raise CheckpointError(
            f"{path}: could not write the checkpoint ({err}); the previous checkpoint is kept. "
            "Is the disk full? Free space and rerun the same command to resume"
        ) from err
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
    stored = state.get(CHECKSUM_KEY)  # absent in checkpoints written before checksums existed
    if stored is not None:
        if not (isinstance(stored, dict) and stored.get("algorithm") == "sha256"):
            raise CheckpointError(f"{path}: unknown checksum entry {stored!r}")
        if state_digest(state) != stored.get("digest"):
            raise CheckpointError(
                f"{path}: content checksum mismatch: the file was changed or corrupted after it was written "
                "(disk or copy error); use an older checkpoint"
            )
    return state


def checkpoint_is_finite(state: dict[str, Any], keys: tuple[str, ...] = ("backbone", "objective")) -> bool:
    """True when every floating tensor under ``keys`` (state dicts) is finite."""
    for key in keys:
        for value in (state.get(key) or {}).values():
            if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
                return False
    return True
