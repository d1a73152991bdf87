"""Training checkpoints in a run directory: rotation of the newest files and ``last.pt``.

Reading and writing one checkpoint file is ``clusterface.checkpoint`` (evaluation uses it too).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from clusterface.checkpoint import CheckpointError, checkpoint_is_finite, load_checkpoint, save_checkpoint


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
