"""Faces found in photos and their embeddings, keyed by file content and model, kept between runs.

One ``.npz`` per (model, detector, crop size) key under the output folder's ``.cache/``. A photo is
found by the SHA-256 of its bytes, so a renamed or moved photo is not embedded again, and an edited
one is. A photo with no face is remembered too (zero faces), so it is not detected again either.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def model_key(model_files: list[Path], extra: str) -> str:
    """A short key for a model (its files' bytes) and the detection settings (``extra``)."""
    h = hashlib.sha256(extra.encode())
    for p in sorted(model_files):
        h.update(file_sha256(p).encode())
    return h.hexdigest()[:24]


@dataclass
class PhotoFaces:
    """The faces of one photo: boxes (F, 4), scores (F,), landmarks (F, 5, 2), embeddings (F, d)."""

    boxes: NDArray[np.float64]
    scores: NDArray[np.float64]
    landmarks: NDArray[np.float64]
    embeddings: NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.scores)


class EmbeddingStore:
    """``{photo sha256: PhotoFaces}`` loaded from and saved to one ``.npz`` file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, PhotoFaces] = {}
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                counts, hashes = z["counts"], z["hashes"]
                starts = np.concatenate([[0], np.cumsum(counts)])
                for i, h in enumerate(hashes):
                    s, e = int(starts[i]), int(starts[i + 1])
                    self.entries[str(h)] = PhotoFaces(
                        z["boxes"][s:e], z["scores"][s:e], z["landmarks"][s:e], z["embeddings"][s:e]
                    )

    def get(self, sha: str) -> PhotoFaces | None:
        return self.entries.get(sha)

    def put(self, sha: str, faces: PhotoFaces) -> None:
        self.entries[sha] = faces

    def save(self, dim: int) -> None:
        """Write atomically (temporary file, rename)."""
        hashes = sorted(self.entries)
        faces = [self.entries[h] for h in hashes]
        arrays = {
            "hashes": np.array(hashes, dtype="U64"),
            "counts": np.array([len(f) for f in faces], dtype=np.int64),
            "boxes": np.concatenate([f.boxes.reshape(-1, 4) for f in faces] or [np.zeros((0, 4))]),
            "scores": np.concatenate([f.scores.reshape(-1) for f in faces] or [np.zeros(0)]),
            "landmarks": np.concatenate([f.landmarks.reshape(-1, 5, 2) for f in faces] or [np.zeros((0, 5, 2))]),
            "embeddings": np.concatenate(
                [f.embeddings.reshape(-1, dim) for f in faces] or [np.zeros((0, dim), np.float32)]
            ).astype(np.float32),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}.npz")
        try:
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
