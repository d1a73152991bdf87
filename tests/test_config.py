import pytest
import yaml

from clusterface.config import (
    CLUSTER_METHODS,
    DATA_SOURCES,
    MARGIN_CONFIGS,
    ArcFaceMarginConfig,
    ClusterGuidedMarginConfig,
    Config,
    ConfigError,
    EvalConfig,
    MarginConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    migrate_config_tree,
    save_config,
)


def test_defaults_validate():
    cfg = load_config()
    assert cfg.margin.scale == 64.0
    assert cfg.memory.alpha == 10.0


def test_yaml_then_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"optim": {"lr": 0.2}, "schedule": {"epochs": 3}, "margin": {"kind": "arcface"}}))
    cfg = load_config(p, ["optim.lr=0.05", "objective.use_scc=false", "memory.clip_percentiles=[5, 95]"])
    assert cfg.optim.lr == 0.05
    assert cfg.schedule.epochs == 3
    assert cfg.margin.kind == "arcface"
    assert cfg.objective.use_scc is False
    assert cfg.memory.clip_percentiles == (5.0, 95.0)


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("optim.lrr=0.1", "optim.lrr"),
        ("optim.lr=-1", "optim.lr"),
        ("margin.kind=foo", "margin.kind"),
        ("nokey", "form"),
    ],
)
def test_bad_overrides_name_the_field(override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(None, [override])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_round_trip(tmp_path):
    cfg = load_config(None, ["model.backbone=iresnet50", "schedule.epochs=7"])
    path = save_config(cfg, tmp_path / "run" / "config.yaml")
    again = load_config(path)
    assert again == cfg
    assert config_from_dict(config_to_dict(cfg)) == cfg
    assert isinstance(again, Config)


def test_shipped_configs_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    files = sorted(root.rglob("*.yaml"))
    assert files, "configs/ should ship example configs"
    for f in files:
        load_config(f)


# An old-layout config as stored in checkpoints before the `train` section was split.
OLD_LAYOUT = {
    "model": {"backbone": "cfnet_s", "embedding_dim": 64},
    "margin": {
        "kind": "cluster_guided",
        "scale": 32.0,
        "margin": 0.45,
        "delta": 0.05,
        "beta": 1.0,
        "smoothing": 0.0,
        "multiplicative_angular": 1.0,
        "additive_angular": 0.5,
        "additive_cosine": 0.0,
    },
    "train": {
        "out_dir": "runs/x",
        "epochs": 3,
        "batch_size": 32,
        "optimizer": "adamw",
        "lr": 0.05,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "lr_schedule": "poly",
        "lr_warmup_epochs": 0.25,
        "grad_clip": None,
        "amp": "off",
        "device": "cpu",
        "seed": 7,
        "checkpoint_every_steps": 10,
        "keep_checkpoints": 3,
        "eval_every_epochs": 2,
        "max_consecutive_nonfinite": 4,
        "max_steps": None,
        "poly_power": 1.5,
        "min_lr_ratio": 0.1,
        "no_decay_norm_bias": False,
        "hflip": False,
        "log_every_steps": 5,
        "dist_timeout_s": 60,
    },
}


def test_old_layout_is_migrated_when_read_from_a_checkpoint():
    cfg = config_from_dict(OLD_LAYOUT)
    assert cfg.margin == ClusterGuidedMarginConfig(scale=32.0, m0=0.45, delta=0.05)
    assert cfg.optim.kind == "adamw" and cfg.optim.lr == 0.05 and cfg.optim.grad_clip is None
    assert cfg.optim.weight_decay == 1e-4 and cfg.optim.no_decay_norm_bias is False
    assert (cfg.schedule.epochs, cfg.schedule.batch_size, cfg.schedule.decay) == (3, 32, "poly")
    assert (cfg.schedule.warmup_epochs, cfg.schedule.poly_power, cfg.schedule.min_lr_ratio) == (0.25, 1.5, 0.1)
    assert (cfg.runtime.device, cfg.runtime.seed, cfg.runtime.dist_timeout_s) == ("cpu", 7, 60)
    assert str(cfg.runtime.out_dir) == "runs/x" and cfg.runtime.max_consecutive_nonfinite == 4
    assert (cfg.checkpoint.every_steps, cfg.checkpoint.keep) == (10, 3)
    assert cfg.logging.every_steps == 5 and cfg.eval.every_epochs == 2 and cfg.data.hflip is False
    # the current layout passes through unchanged
    assert config_from_dict(config_to_dict(cfg)) == cfg
    assert migrate_config_tree(config_to_dict(cfg)) == config_to_dict(cfg)


@pytest.mark.parametrize("kind, key", [("arcface", "m"), ("cosface", "m")])
def test_old_flat_margin_value_goes_to_the_kinds_field(kind, key):
    cfg = config_from_dict({"margin": {**OLD_LAYOUT["margin"], "kind": kind, "margin": 0.3}})
    assert cfg.margin.kind == kind and getattr(cfg.margin, key) == 0.3
    assert not hasattr(cfg.margin, "delta")


def test_user_configs_with_old_keys_name_the_new_key(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.lr is now optim\.lr"):
        load_config(None, ["train.lr=0.1"])
    p = tmp_path / "old.yaml"
    p.write_text(yaml.safe_dump({"margin": {"kind": "arcface", "margin": 0.4}}))
    with pytest.raises(ConfigError, match=r"margin\.margin is now margin\.m "):
        load_config(p)


def test_margin_section_holds_only_its_kinds_fields():
    assert isinstance(load_config(None, ["margin.kind=arcface"]).margin, ArcFaceMarginConfig)
    assert load_config(None, ["margin.m0=0.4"]).margin.m0 == 0.4  # kind defaults to cluster_guided
    with pytest.raises(ConfigError, match="margin.delta"):
        load_config(None, ["margin.kind=arcface", "margin.delta=0.1"])
    with pytest.raises(ConfigError, match="accepted: arcface, cosface, combined, cluster_guided"):
        load_config(None, ["margin.kind=sphereface"])
    saved = config_to_dict(load_config(None, ["margin.kind=combined", "margin.additive_cosine=0.2"]))
    assert saved["margin"] == {
        "kind": "combined",
        "scale": 64.0,
        "multiplicative_angular": 1.0,
        "additive_angular": 0.5,
        "additive_cosine": 0.2,
    }


def test_registries_and_config_names_agree():
    from clusterface.clustering import CLUSTERING_METHODS
    from clusterface.losses import MARGIN_FACTORIES
    from clusterface.training.datasets import _SOURCES

    assert list(MARGIN_FACTORIES) == list(MARGIN_CONFIGS)
    assert set(_SOURCES) == set(DATA_SOURCES)
    assert tuple(CLUSTERING_METHODS) == CLUSTER_METHODS


def test_a_newly_registered_margin_and_source_validate():
    from clusterface.heads import ArcFaceMargin
    from clusterface.losses import MARGIN_FACTORIES, build_margin, register_margin
    from clusterface.training import register_train_source
    from clusterface.training.datasets import _SOURCES

    class HalfArcConfig(MarginConfig):
        kind: str = "half_arc"
        m: float = 0.25

    try:
        register_margin("half_arc", HalfArcConfig, lambda m, _: ArcFaceMargin(m.m / 2))
        register_train_source("fake")(lambda cfg: None)
        cfg = load_config(None, ["margin.kind=half_arc", "margin.m=0.5", "data.source=fake"])
        assert isinstance(cfg.margin, HalfArcConfig) and build_margin(cfg, None).margin == 0.25
        assert config_to_dict(cfg)["margin"] == {"kind": "half_arc", "scale": 64.0, "m": 0.5}
    finally:
        MARGIN_CONFIGS.pop("half_arc", None)
        MARGIN_FACTORIES.pop("half_arc", None)
        DATA_SOURCES.pop("fake", None)
        _SOURCES.pop("fake", None)


def test_every_eval_field_has_a_reader():
    """EvalConfig is the one source of the evaluation defaults: each field is read by the CLI or the trainer."""
    import inspect

    from clusterface.cli import evaluate as cli_evaluate
    from clusterface.training import datasets, trainer

    # datasets.verification_bin_path reads eval.periodic_split
    source = inspect.getsource(cli_evaluate) + inspect.getsource(trainer) + inspect.getsource(datasets)
    for name in EvalConfig.model_fields:
        assert f".{name}" in source, f"EvalConfig.{name} is read nowhere"


def test_a_checkpoint_with_an_old_layout_config_loads(tmp_path):
    """Users have checkpoints written before the split: their backbone still rebuilds from the stored config."""
    import torch

    from clusterface.checkpoint import load_backbone, save_checkpoint
    from clusterface.models import create_backbone

    torch.manual_seed(0)
    model = create_backbone("cfnet_s", embedding_dim=64)
    path = save_checkpoint({"config": OLD_LAYOUT, "backbone": model.state_dict()}, tmp_path / "old.pt")
    loaded, cfg = load_backbone(path)
    assert cfg.optim.lr == 0.05 and cfg.margin.m0 == 0.45 and cfg.model.embedding_dim == 64
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
