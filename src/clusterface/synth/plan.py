"""The dataset plan: which identity goes to which split, how many images each has, where each file goes.

The plan is a pure function of the :class:`SynthConfig` (no pixels), so the disk writer and
the on-the-fly dataset agree on every file and label.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
        base = "train" if self.split == "train" else f"{self.split}/images"
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
    # validation identities (synth.val_fraction), disjoint from train and test; none by default
    val_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    val: tuple[ImageRecord, ...] = ()

    def split_ids(self, split: str) -> np.ndarray:
        """Sorted identity indices of ``split`` ("train", "val" or "test")."""
        return {"train": self.train_ids, "val": self.val_ids, "test": self.test_ids}[split]

    def records(self, split: str) -> tuple[ImageRecord, ...]:
        """The images of ``split`` ("train", "val" or "test")."""
        return {"train": self.train, "val": self.val, "test": self.test}[split]


def folder_name(identity: int) -> str:
    """Folder of an identity: zero-padded so that sorted names follow identity order."""
    return f"id{identity:06d}"


def image_counts(cfg: SynthConfig) -> np.ndarray:
    """Long-tailed images per identity: log-normal around ``images_median``, clipped to [min, max]."""
    rng = np.random.default_rng([cfg.seed, 6])
    lo, hi = cfg.images_min, cfg.images_max  # the config guarantees min <= median <= max
    raw = cfg.images_median * np.exp(cfg.images_spread * rng.standard_normal(cfg.identities))
    return np.clip(np.round(raw), lo, hi).astype(np.int64)


def _take_families(roots: np.ndarray, parents: np.ndarray, want: int) -> list[int]:
    """Whole look-alike families, in ``roots`` order, until at least ``want`` identities are taken."""
    taken: list[int] = []
    for r in roots:
        if len(taken) >= want:
            break
        taken.extend(int(i) for i in np.nonzero(parents == r)[0])
    return taken


def split_identities(cfg: SynthConfig, parents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identity-disjoint (train, test, val) split that keeps look-alike families together.

    Test is drawn first, exactly as without a validation split, so ``synth.val_fraction`` never
    changes the test identities; validation families are then drawn from the rest with their own
    random stream. ``val_fraction = 0`` gives an empty validation split and the same train split
    as before it existed.
    """
    rng = np.random.default_rng([cfg.seed, 6, 1])
    roots = np.unique(parents)
    rng.shuffle(roots)
    test_ids = np.array(sorted(_take_families(roots, parents, max(2, round(cfg.test_fraction * cfg.identities)))))
    test_ids = test_ids.astype(np.int64)
    val_ids = np.zeros(0, np.int64)
    if cfg.val_fraction > 0:
        rest = np.setdiff1d(np.unique(parents), np.unique(parents[test_ids]))
        np.random.default_rng([cfg.seed, 6, 2]).shuffle(rest)
        val = _take_families(rest, parents, max(2, round(cfg.val_fraction * cfg.identities)))
        val_ids = np.array(sorted(val), np.int64)
    train_ids = np.setdiff1d(np.arange(cfg.identities), np.concatenate([test_ids, val_ids]))
    if len(train_ids) < 2 or len(test_ids) < 2 or (cfg.val_fraction > 0 and len(val_ids) < 2):
        raise ValueError(
            f"{cfg.identities} identities cannot be split into train, test and validation with "
            f"test_fraction={cfg.test_fraction}, val_fraction={cfg.val_fraction}: "
            "use more identities or smaller fractions"
        )
    return train_ids, test_ids, val_ids


def build_plan(cfg: SynthConfig) -> SynthPlan:
    """The full plan of a dataset (deterministic in ``cfg``)."""
    parents = family_parents(cfg.seed, cfg.identities, cfg.lookalike_fraction)
    counts = image_counts(cfg)
    train_ids, test_ids, val_ids = split_identities(cfg, parents)

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
    val = [ImageRecord("val", int(i), j, int(i), j) for i in val_ids for j in range(int(counts[i]))]
    return SynthPlan(parents, counts, train_ids, test_ids, tuple(train), tuple(test), n_noisy, val_ids, tuple(val))
