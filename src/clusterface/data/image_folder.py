"""Image folders ``root/<identity>/*.jpg|png|...`` with a persisted identity -> label map.

Labels are the sorted identity-folder index (the same rule SynthFaces uses) unless a label map
(JSON object ``{"identity": label}``) fixes them: pass ``label_map=PATH`` to read it, or to write
it when it does not exist yet, so a later run (or a converted RecordIO) keeps the same labels.
Without ``label_map``, ``root/label_map.json`` is used when present. Files whose extension is not
an image extension are ignored and reported in :attr:`FolderIndex.ignored`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from clusterface.data.decode import IMAGE_SIZE, is_image_file, read_face
from clusterface.data.face_dataset import BadFilePolicy, FaceDataset

LABEL_MAP_NAME = "label_map.json"


class LabelMapError(ValueError):
    """A label map that is malformed or does not cover the folder; the message names the file."""


def load_label_map(path: str | Path) -> dict[str, int]:
    """Read a JSON ``{"identity": label}`` map and check labels are distinct non-negative ints."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise LabelMapError(f"{path}: cannot read label map ({err})") from err
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in raw.items()
    ):
        raise LabelMapError(f"{path}: a label map is a JSON object of identity name -> non-negative integer")
    if len(set(raw.values())) != len(raw):
        raise LabelMapError(f"{path}: two identities share a label")
    return dict(raw)


def save_label_map(path: str | Path, mapping: dict[str, int]) -> Path:
    """Write a label map atomically (sorted by label)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    ordered = dict(sorted(mapping.items(), key=lambda kv: kv[1]))
    tmp.write_text(json.dumps(ordered, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class FolderIndex:
    """What an image folder holds: one entry per image file, sorted by (label, path)."""

    root: Path
    label_map: dict[str, int]
    paths: list[Path]
    labels: np.ndarray  # int64, one per path
    ignored: list[Path] = field(default_factory=list)  # non-image files
    empty_identities: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return max(self.label_map.values(), default=-1) + 1

    @property
    def identities(self) -> list[str]:
        """Identity names ordered by label."""
        return [name for name, _ in sorted(self.label_map.items(), key=lambda kv: kv[1])]


def _walk_files(directory: Path) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        files.extend(Path(dirpath) / name for name in sorted(filenames))
    return files


def index_image_folder(root: str | Path, label_map: str | Path | None = None) -> FolderIndex:
    """List ``root/<identity>/**`` image files and their labels (see module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such image folder")
    identity_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    ignored = sorted(p for p in root.iterdir() if p.is_file() and p.name != LABEL_MAP_NAME)
    # a link to the root or one of its parents would make one identity of every image (a loop)
    real_root = root.resolve()
    looping = [d for d in identity_dirs if real_root.is_relative_to(d.resolve())]
    identity_dirs = [d for d in identity_dirs if d not in looping]
    ignored += looping
    map_path = Path(label_map) if label_map is not None else root / LABEL_MAP_NAME
    if map_path.is_file():
        mapping = load_label_map(map_path)
        unknown = [d.name for d in identity_dirs if d.name not in mapping]
        if unknown:
            raise LabelMapError(
                f"{map_path}: {len(unknown)} identity folder(s) of {root} not in the label map, e.g. {unknown[:3]}: "
                "delete the map to relabel from folder names"
            )
    else:
        mapping = {d.name: i for i, d in enumerate(identity_dirs)}
        if label_map is not None:
            save_label_map(map_path, mapping)
    paths: list[Path] = []
    labels: list[int] = []
    empty: list[str] = []
    for d in sorted(identity_dirs, key=lambda p: mapping[p.name]):
        found = 0
        for p in _walk_files(d):
            if is_image_file(p) and not p.name.startswith("."):
                paths.append(p)
                labels.append(mapping[d.name])
                found += 1
            else:
                ignored.append(p)
        if not found:
            empty.append(d.name)
    return FolderIndex(root, mapping, paths, np.asarray(labels, dtype=np.int64), ignored, empty)


class PathTable:
    """Many paths under one root, stored as one byte buffer + offsets (numpy).

    A list of millions of ``Path`` objects costs ~1 GB and, because reading an object touches its
    reference count, is copied page by page into every forked DataLoader worker; two numpy
    arrays are neither (https://github.com/pytorch/pytorch/issues/13246).
    """

    def __init__(self, root: Path, paths: list[Path]) -> None:
        self.root = root
        encoded = [os.fsencode(p.relative_to(root)) for p in paths]
        self.offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=self.offsets[1:])
        self.blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> Path:
        return self.root / os.fsdecode(self.blob[self.offsets[i] : self.offsets[i + 1]].tobytes())

    def tolist(self) -> list[Path]:
        return [self[i] for i in range(len(self))]


class ImageFolderDataset(FaceDataset):
    """Faces from ``root/<identity>/*``: items ``(uint8 (3, 112, 112) RGB, label)``.

    ``label_map``: JSON identity -> label map to read (or to create when missing), see the module
    docstring. ``.ignored`` lists non-image files that were skipped.
    """

    def __init__(
        self,
        root: str | Path,
        label_map: str | Path | None = None,
        bad_file_policy: BadFilePolicy = "skip",
        max_bad_fraction: float = 0.01,
        image_size: int = IMAGE_SIZE,
    ) -> None:
        super().__init__(bad_file_policy, max_bad_fraction, image_size)
        index = index_image_folder(root, label_map)
        self.root = index.root
        if not index.paths:
            raise FileNotFoundError(f"{self.root}: no images found under <identity>/ folders")
        self.path_table = PathTable(index.root, index.paths)
        self.labels = index.labels
        self.num_classes = index.num_classes
        self.label_map = index.label_map
        self.ignored = index.ignored
        self.empty_identities = index.empty_identities

    @property
    def paths(self) -> list[Path]:
        """Every image path, in item order (built on demand)."""
        return self.path_table.tolist()

    def path(self, index: int) -> Path:
        """The file of item ``index``."""
        return self.path_table[index]

    def describe(self, index: int) -> str:
        return str(self.path_table[index])

    def _read(self, index: int) -> tuple[torch.Tensor, int]:
        return read_face(self.path_table[index], self.image_size), int(self.labels[index])

    def save_label_map(self, path: str | Path) -> Path:
        """Persist this dataset's identity -> label map (e.g. into a run directory)."""
        return save_label_map(path, self.label_map)
