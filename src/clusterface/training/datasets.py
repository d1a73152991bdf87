"""Training dataset factory: ``cfg.data.source`` -> dataset, through a small registry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from torch.utils.data import Dataset

from clusterface.config.loading import ConfigError
from clusterface.config.schema import DATA_SOURCES, Config

DatasetFactory = Callable[[Config], Dataset]
_SOURCES: dict[str, DatasetFactory] = {}


def register_train_source(name: str, description: str = "") -> Callable[[DatasetFactory], DatasetFactory]:
    """Decorator: register ``factory(cfg) -> Dataset`` (items ``(uint8 (3,112,112), int)``, ``.num_classes``).

    The name is also added to ``config.DATA_SOURCES``, so ``data.source=<name>`` validates.
    """

    def wrap(factory: DatasetFactory) -> DatasetFactory:
        _SOURCES[name] = factory
        DATA_SOURCES.setdefault(name, description)
        return factory

    return wrap


def build_train_dataset(cfg: Config) -> Dataset:
    """The training set named by ``cfg.data.source`` (synth | synth-disk | folder | recordio)."""
    if cfg.data.source not in _SOURCES:
        raise ConfigError(f"unknown data.source {cfg.data.source!r}; available: {', '.join(sorted(_SOURCES))}")
    return _SOURCES[cfg.data.source](cfg)


def _require_path(cfg: Config) -> Path:
    if cfg.data.path is None:
        raise ConfigError(f"data.source={cfg.data.source} needs data.path (an image folder or a .rec file)")
    return Path(cfg.data.path)


@register_train_source("synth")
def _synth_on_the_fly(cfg: Config) -> Dataset:
    from clusterface.synth import SynthFacesDataset

    return SynthFacesDataset(cfg.synth, split="train")


# How long ranks 1..N-1 wait for rank 0 to write SynthFaces (longer than any process-group timeout).
SYNTH_WAIT_S = 6 * 3600


def synth_on_main_rank(cfg: Config) -> Path:
    """Write (or reuse) SynthFaces on rank 0 only; other ranks wait, then read. Returns the train folder.

    Under torchrun every rank builds the dataset; were each to call the writer, they would write
    the same folder at once and one could delete another's temporary files. Rank 0 writes; the
    others wait on a gloo group of their own whose timeout (``SYNTH_WAIT_S``) outlasts the
    generation (the training group's timeout is minutes), and raise rank 0's error if it failed.
    """
    import torch.distributed as dist

    from clusterface.synth import generate_dataset, synth_paths

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return generate_dataset(cfg.synth, progress=True).train_dir
    group = dist.new_group(backend="gloo", timeout=timedelta(seconds=SYNTH_WAIT_S))
    try:
        failure: Exception | None = None
        box: list[str | None] = [None]
        if dist.get_rank() == 0:
            try:
                generate_dataset(cfg.synth, progress=True)
            except Exception as err:  # reported to the other ranks, then raised here
                failure, box[0] = err, f"{type(err).__name__}: {err}"
        dist.broadcast_object_list(box, src=0, group=group)
        if failure is not None:
            raise failure
        if box[0] is not None:
            raise RuntimeError(f"rank 0 could not write SynthFaces to {cfg.synth.root}: {box[0]}")
    finally:
        dist.destroy_process_group(group)
    return synth_paths(Path(cfg.synth.root)).train_dir


@register_train_source("synth-disk")
def _synth_on_disk(cfg: Config) -> Dataset:
    from clusterface.data import ImageFolderDataset

    train_dir = synth_on_main_rank(cfg)
    return ImageFolderDataset(
        train_dir, bad_file_policy=cfg.data.bad_file_policy, max_bad_fraction=cfg.data.max_bad_fraction
    )


@register_train_source("folder")
def _image_folder(cfg: Config) -> Dataset:
    from clusterface.data import ImageFolderDataset

    return ImageFolderDataset(
        _require_path(cfg),
        label_map=cfg.data.label_map,
        bad_file_policy=cfg.data.bad_file_policy,
        max_bad_fraction=cfg.data.max_bad_fraction,
    )


@register_train_source("recordio")
def _recordio(cfg: Config) -> Dataset:
    from clusterface.data import RecordIODataset

    return RecordIODataset(
        _require_path(cfg), bad_file_policy=cfg.data.bad_file_policy, max_bad_fraction=cfg.data.max_bad_fraction
    )


def verification_bin_path(cfg: Config, split: str | None = None) -> Path | None:
    """The held-out verification .bin that goes with the training data, when there is one on disk.

    ``split``: "val" (SynthFaces written with synth.val_fraction > 0: identities disjoint from
    train and test, for choosing epochs and hyperparameters), "test", or None = ``cfg.eval.periodic_split``
    ("auto": the validation .bin when the data has one, else the test .bin).
    """
    split = cfg.eval.periodic_split if split is None else split
    if split not in ("auto", "val", "test"):
        raise ValueError(f"split must be 'auto', 'val' or 'test', got {split!r}")
    if cfg.data.source not in ("synth", "synth-disk"):
        return None
    root = Path(cfg.synth.root)
    val, test = root / "val" / "verification.bin", root / "test" / "verification.bin"
    if split == "val" or (split == "auto" and cfg.synth.val_fraction > 0):
        if not val.is_file() and split == "val":
            raise FileNotFoundError(
                f"{val} does not exist: write SynthFaces with a validation split (synth.val_fraction > 0)"
            )
        return val if val.is_file() else None
    return test if test.is_file() else None
