"""Sets of face crops to cluster: an image folder (labelled by sub-folder) or a flat folder (unlabelled).

Features can also come ready-made: ``.npy`` (features only) or ``.npz`` with ``features`` and
optionally ``labels``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass
class FaceSet:
    """Items to cluster: image paths (or None for feature files), labels (or None) and class names."""

    paths: list[Path]
    labels: NDArray[np.int64] | None
    class_names: list[str]
    features: NDArray[np.float32] | None = None

    def __len__(self) -> int:
        return len(self.paths) if self.features is None else len(self.features)

    def item_names(self, root: Path | None = None) -> list[str]:
        """Relative paths for image sets, row indices for feature files."""
        if self.features is not None and not self.paths:
            return [str(i) for i in range(len(self.features))]
        return [str(p.relative_to(root)) if root is not None else str(p) for p in self.paths]


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")


def load_face_set(path: str | Path) -> FaceSet:
    """An image folder ``ROOT/<identity>/<image>`` (labels = sorted identity index), a flat folder of
    images (no labels), or a ``.npy``/``.npz`` feature file."""
    path = Path(path)
    if path.is_file() and path.suffix == ".npy":
        feats = np.load(path, allow_pickle=False)
        return FaceSet([], None, [], np.asarray(feats, dtype=np.float32))
    if path.is_file() and path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            if "features" not in data:
                raise ValueError(f"{path}: an .npz face set needs a 'features' array (and optionally 'labels')")
            feats = np.asarray(data["features"], dtype=np.float32)
            labels = np.asarray(data["labels"], dtype=np.int64) if "labels" in data else None
        if labels is not None and len(labels) != len(feats):
            raise ValueError(f"{path}: {len(feats)} features but {len(labels)} labels")
        return FaceSet([], labels, [], feats)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: not a folder of face crops or a .npy/.npz feature file")
    subdirs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    paths: list[Path] = []
    labels_list: list[int] = []
    names: list[str] = []
    for d in subdirs:
        files = sorted(p for p in d.iterdir() if _is_image(p))
        if files:
            names.append(d.name)
            paths += files
            labels_list += [len(names) - 1] * len(files)
    if paths:
        return FaceSet(paths, np.asarray(labels_list, dtype=np.int64), names)
    flat = sorted(p for p in path.iterdir() if _is_image(p))
    if not flat:
        raise ValueError(f"{path}: no images (expected ROOT/<identity>/<image> or ROOT/<image>)")
    return FaceSet(flat, None, [])
