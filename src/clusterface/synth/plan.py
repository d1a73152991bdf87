"""The dataset plan: which identity goes to which split, how many images each has, where each file goes.

The plan is a pure function of the :class:`SynthConfig` (no pixels), so the disk writer and
the on-the-fly dataset agree on every file and label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clusterface.config.schema import SynthConfig
from clusterface.synth.people import family_parents


@dataclass(frozen=True)
class ImageRecord:
    """One image of the dataset: rendered from (identity, image), filed under ``folder``."""

    split: str
    folder: int  # identity whose folder holds the file (differs from ``identity`` under label noise)
    number: int  # file ``<number>.jpg`` inside the folder
    identity: int
    image: int

    @property
    def relpath(self) -> str:
        """Path relative to the dataset root."""
        base = "train" if self.split == "train" else "test/images"
        return f"{base}/{folder_name(self.folder)}/{self.number}.jpg"


@dataclass(frozen=True)
class SynthPlan:
    """Families, image counts, splits and file layout of a SynthFaces dataset."""

    parents: np.ndarray  # (N,) family root of each identity
    counts: np.ndarray  # (N,) images rendered per identity
    train_ids: np.ndarray  # sorted identity indices
    test_ids: np.ndarray
    train: tuple[ImageRecord, ...]
    test: tuple[ImageRecord, ...]
    noisy_images: int  # train images filed under a wrong identity


def folder_name(identity: int) -> str:
    """Folder of an identity: zero-padded so that sorted names follow identity order."""
    return f"id{identity:06d}"


def image_counts(cfg: SynthConfig) -> np.ndarray:
    """Long-tailed images per identity: log-normal around ``images_median``, clipped to [min, max]."""
    rng = np.random.default_rng([cfg.seed, 6])
    lo, hi = cfg.images_min, cfg.images_max  # the config guarantees min <= median <= max
    raw = cfg.images_median * np.exp(cfg.images_spread * rng.standard_normal(cfg.identities))
    return np.clip(np.round(raw), lo, hi).astype(np.int64)


def split_identities(cfg: SynthConfig, parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Identity-disjoint train/test split that keeps look-alike families together (in test they give hard impostors)."""
    rng = np.random.default_rng([cfg.seed, 6, 1])
    roots = np.unique(parents)
    rng.shuffle(roots)
    want = max(2, round(cfg.test_fraction * cfg.identities))
    test: list[int] = []
    for r in roots:
        if len(test) >= want:
            break
        test.extend(int(i) for i in np.nonzero(parents == r)[0])
    test_ids = np.array(sorted(test), np.int64)
    train_ids = np.setdiff1d(np.arange(cfg.identities), test_ids)
    if len(train_ids) < 2 or len(test_ids) < 2:
        raise ValueError(
            f"{cfg.identities} identities cannot be split into train and test with test_fraction={cfg.test_fraction}"
        )
    return train_ids, test_ids


def build_plan(cfg: SynthConfig) -> SynthPlan:
    """The full plan of a dataset (deterministic in ``cfg``)."""
    parents = family_parents(cfg.seed, cfg.identities, cfg.lookalike_fraction)
    counts = image_counts(cfg)
    train_ids, test_ids = split_identities(cfg, parents)

    # label noise: a fixed number of train images (never an identity's image 0, so no folder empties)
    sources = [(int(i), j) for i in train_ids for j in range(int(counts[i]))]
    movable = [k for k, (_, j) in enumerate(sources) if j > 0]
    n_noisy = round(cfg.label_noise * len(sources))
    n_noisy = min(n_noisy, len(movable))
    rng = np.random.default_rng([cfg.seed, 8])
    noisy = rng.choice(np.array(movable, np.int64), size=n_noisy, replace=False) if n_noisy else np.zeros(0, np.int64)
    target = {}
    for k in noisy.tolist():
        true = sources[k][0]
        # uniform over the other train identities
        pick = int(rng.integers(0, len(train_ids) - 1))
        if pick >= int(np.searchsorted(train_ids, true)):
            pick += 1
        other = int(train_ids[pick])
        target[k] = other
    per_folder: dict[int, list[tuple[int, int]]] = {int(i): [] for i in train_ids}
    incoming: dict[int, list[tuple[int, int]]] = {int(i): [] for i in train_ids}
    for k, (ident, j) in enumerate(sources):
        if k in target:
            incoming[target[k]].append((ident, j))
        else:
            per_folder[ident].append((ident, j))
    train: list[ImageRecord] = []
    for f in train_ids.tolist():
        items = per_folder[f] + sorted(incoming[f])
        train.extend(ImageRecord("train", f, n, ident, j) for n, (ident, j) in enumerate(items))
    test = [ImageRecord("test", int(i), j, int(i), j) for i in test_ids for j in range(int(counts[i]))]
    return SynthPlan(parents, counts, train_ids, test_ids, tuple(train), tuple(test), n_noisy)
