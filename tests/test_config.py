import pytest
import yaml

from clusterface.config import Config, ConfigError, config_from_dict, config_to_dict, load_config, save_config


def test_defaults_validate():
    cfg = load_config()
    assert cfg.margin.scale == 64.0
    assert cfg.memory.alpha == 10.0


def test_yaml_then_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"train": {"lr": 0.2, "epochs": 3}, "margin": {"kind": "arcface"}}))
    cfg = load_config(p, ["train.lr=0.05", "objective.use_scc=false", "memory.clip_percentiles=[5, 95]"])
    assert cfg.train.lr == 0.05
    assert cfg.train.epochs == 3
    assert cfg.margin.kind == "arcface"
    assert cfg.objective.use_scc is False
    assert cfg.memory.clip_percentiles == (5.0, 95.0)


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("train.lrr=0.1", "train.lrr"),
        ("train.lr=-1", "train.lr"),
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
    cfg = load_config(None, ["model.backbone=iresnet50", "train.epochs=7"])
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
