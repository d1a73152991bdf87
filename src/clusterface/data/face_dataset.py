"""Common base of the on-disk face datasets: item format and the bad-file policy.

An item is ``(image, label)``: ``image`` a uint8 ``(3, 112, 112)`` RGB tensor, ``label`` an int.

Bad files (undecodable image, corrupt record) follow ``bad_file_policy``:

- ``"raise"``: the error (which names the file) propagates.
- ``"skip"``: a warning names the file and the item is replaced by the next readable sample
  ``(i + 1) % N, (i + 2) % N, ...`` (deterministic, so batch sizes and reruns stay the same; the
  label returned is the replacement's). When more than ``max_bad_fraction`` of the dataset has
  turned out bad, :class:`TooManyBadFilesError` aborts the run. The count is kept per process:
  with DataLoader workers each worker counts the files it met (``clusterface data scan`` checks
  every file up front).
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from clusterface.data.decode import IMAGE_SIZE, ImageDecodeError
from clusterface.data.recordio import RecordIOError

logger = logging.getLogger("clusterface.data")

BadFilePolicy = Literal["raise", "skip"]
# Errors that mark one sample as bad (as opposed to a programming error).
BAD_SAMPLE_ERRORS: tuple[type[Exception], ...] = (ImageDecodeError, RecordIOError, OSError)


class TooManyBadFilesError(RuntimeError):
    """More than ``max_bad_fraction`` of a dataset is unreadable."""


class FaceDataset(Dataset[tuple[torch.Tensor, int]]):
    """Base class: subclasses set ``labels`` / ``num_classes`` and implement ``_read`` and ``describe``."""

    labels: np.ndarray
    num_classes: int

    def __init__(
        self, bad_file_policy: BadFilePolicy = "skip", max_bad_fraction: float = 0.01, image_size: int = IMAGE_SIZE
    ) -> None:
        if bad_file_policy not in ("raise", "skip"):
            raise ValueError(f"bad_file_policy must be 'raise' or 'skip', got {bad_file_policy!r}")
        if not 0.0 <= max_bad_fraction <= 1.0:
            raise ValueError(f"max_bad_fraction must be in [0, 1], got {max_bad_fraction}")
        self.bad_file_policy: BadFilePolicy = bad_file_policy
        self.max_bad_fraction = float(max_bad_fraction)
        self.image_size = int(image_size)
        self.bad_files: dict[int, str] = {}  # index -> error message, in this process

    def __len__(self) -> int:
        return len(self.labels)

    def _read(self, index: int) -> tuple[torch.Tensor, int]:
        """Read and decode sample ``index``; raise one of BAD_SAMPLE_ERRORS naming the file when bad."""
        raise NotImplementedError

    def describe(self, index: int) -> str:
        """The file (or ``file:record``) that holds sample ``index``, for messages."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        n = len(self)
        index = int(index)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} samples")
        index %= n
        if self.bad_file_policy == "raise":
            return self._read(index)
        for step in range(n):
            candidate = (index + step) % n
            if candidate in self.bad_files:
                continue
            try:
                return self._read(candidate)
            except BAD_SAMPLE_ERRORS as err:
                self._record_bad(candidate, err)
        raise TooManyBadFilesError(f"every one of the {n} samples is unreadable (last: {self.describe(index)})")

    def _record_bad(self, index: int, err: Exception) -> None:
        message = str(err) if self.describe(index) in str(err) else f"{self.describe(index)}: {err}"
        self.bad_files[index] = message
        limit = self.max_bad_fraction * len(self)
        logger.warning("skipping bad file %s (replaced by the next readable sample)", message)
        if len(self.bad_files) > limit:
            raise TooManyBadFilesError(
                f"{len(self.bad_files)} bad files out of {len(self)} exceed max_bad_fraction={self.max_bad_fraction}; "
                f"latest: {message}. Run `clusterface data scan` to list them all."
            ) from err
