"""Training dataset factory: ``cfg.data.source`` -> dataset, through a small registry."""

from __future__ import annotations

from collections.abc import Callable
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


@register_train_source("synth-disk")
def _synth_on_disk(cfg: Config) -> Dataset:
    from clusterface.data import ImageFolderDataset
    from clusterface.synth import generate_dataset

    paths = generate_dataset(cfg.synth, progress=True)
    return ImageFolderDataset(
        paths.train_dir, bad_file_policy=cfg.data.bad_file_policy, max_bad_fraction=cfg.data.max_bad_fraction
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


def verification_bin_path(cfg: Config) -> Path | None:
    """The held-out verification .bin that goes with the training data, when there is one on disk."""
    if cfg.data.source in ("synth", "synth-disk"):
        path = Path(cfg.synth.root) / "test" / "verification.bin"
        return path if path.is_file() else None
    return None
