"""Checkpoints: atomic writes, safe loads, and rebuilding a backbone from a checkpoint alone.

A checkpoint is a dict saved with ``torch.save`` that holds only tensors and plain
Python values, so it loads with ``torch.load(weights_only=True)``. Required keys:
``format`` (``CHECKPOINT_FORMAT``), ``config`` (the resolved config as a plain dict) and
``backbone`` (the backbone's state dict). The trainer adds optimiser, scheduler, head,
memory, momentum encoder, sampler and RNG state. ``save_checkpoint`` adds ``checksum``, a
sha256 over every key and value of the payload (tensor bytes included, whatever the parts are),
and ``load_checkpoint`` refuses a file whose content no longer matches it (a flipped bit that
``torch.load`` would accept silently).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from clusterface.config import Config, config_from_dict

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


def check_state_fits(path: str | Path, part: str, saved: dict[str, Any], module: nn.Module) -> None:
    """Raise ``CheckpointError`` naming ``path`` when ``saved`` (a state dict) has other keys or
    shapes than ``module`` expects: another architecture, embedding size or number of classes."""
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


def checkpoint_is_finite(state: dict[str, Any], keys: tuple[str, ...] = ("backbone", "objective")) -> bool:
    """True when every floating tensor under ``keys`` (state dicts) is finite."""
    for key in keys:
        for value in (state.get(key) or {}).values():
            if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
                return False
    return True


class CheckpointRotation:
    """Training checkpoints in one folder: ``step-NNNNNNNN.pt`` files, the newest ``keep`` kept, ``last.pt``.

    Each file is written atomically by ``save_checkpoint``; ``last.pt`` is then swapped atomically to
    a hard link of the newest file (no second copy on disk), so at every instant ``last.pt`` and
    each ``step-*.pt`` is a complete checkpoint. Non-finite weights are never written.
    """

    def __init__(self, directory: str | Path, keep: int = 2):
        self.directory, self.keep = Path(directory), keep

    def step_files(self) -> list[Path]:
        return sorted(self.directory.glob("step-*.pt"))

    def save(self, state: dict[str, Any], step: int) -> Path:
        if not checkpoint_is_finite(state):
            raise CheckpointError(f"refusing to write a checkpoint with non-finite weights at step {step}")
        path = save_checkpoint(state, self.directory / f"step-{step:08d}.pt")
        last = self.directory / "last.pt"
        tmp = self.directory / f".last.pt.tmp-{os.getpid()}"
        if tmp.exists():
            tmp.unlink()
        try:
            os.link(path, tmp)
            os.replace(tmp, last)
        except OSError:  # file systems without hard links: fall back to a second atomic write
            if tmp.exists():
                tmp.unlink()
            save_checkpoint(state, last)
        for old in self.step_files()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def latest(self) -> Path | None:
        """The newest checkpoint that loads (``last.pt`` first, then step files newest first)."""
        return self.newest_good()[0]

    def newest_good(self) -> tuple[Path | None, list[tuple[Path, str]]]:
        """(newest checkpoint that loads and passes its checksum, [(skipped file, why)] newer than it)."""
        skipped: list[tuple[Path, str]] = []
        for candidate in [self.directory / "last.pt", *reversed(self.step_files())]:
            if candidate.is_file():
                try:
                    load_checkpoint(candidate)
                except CheckpointError as err:
                    skipped.append((candidate, str(err).removeprefix(f"{candidate}: ")))
                    continue
                return candidate, skipped
        return None, skipped
