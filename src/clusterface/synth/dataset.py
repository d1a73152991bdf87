"""SynthFaces as a torch ``Dataset`` rendered on the fly (no disk).

Items are ``(image uint8 (3, 112, 112) RGB, label)``, the same pixels as the files that
:func:`generate_dataset` writes (rendered, JPEG-encoded at the image's quality, decoded).
Labels are the sorted index of the identity folder that holds the image (so label noise
is included exactly as on disk).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from clusterface.config.schema import SynthConfig
from clusterface.data.decode import decode_face
from clusterface.synth.plan import ImageRecord, build_plan
from clusterface.synth.sampling import render_record


class SynthFacesDataset(Dataset[tuple[torch.Tensor, int]]):
    """On-the-fly SynthFaces split: ``"train"``, ``"val"`` (synth.val_fraction > 0) or ``"test"`` (clustering set)."""

    def __init__(self, cfg: SynthConfig, split: str = "train") -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        self.cfg = cfg
        self.split = split
        plan = build_plan(cfg)
        if split == "val" and not len(plan.val_ids):
            raise ValueError("this SynthFaces configuration has no validation split: set synth.val_fraction > 0")
        self.records: tuple[ImageRecord, ...] = plan.records(split)
        ids = plan.split_ids(split)
        self.identities = ids  # label k is identity ids[k]
        index = {int(i): k for k, i in enumerate(ids.tolist())}
        self.labels = np.array([index[r.folder] for r in self.records], np.int64)
        self.true_labels = np.array([index.get(r.identity, -1) for r in self.records], np.int64)
        self.num_classes = len(ids)

    def __len__(self) -> int:
        return len(self.records)

    def jpeg(self, i: int) -> bytes:
        """The encoded image ``i`` (what the disk writer stores)."""
        out = render_record(self.cfg, self.records[i])
        assert out.jpeg is not None
        return out.jpeg

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return decode_face(self.jpeg(i), f"synth {self.split}[{i}]"), int(self.labels[i])
