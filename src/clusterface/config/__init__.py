"""Configuration: typed schema, YAML loading, dotted overrides."""

from clusterface.config.loading import (
    ConfigError,
    config_from_dict,
    config_to_dict,
    load_config,
    merge_trees,
    parse_override,
    save_config,
)
from clusterface.config.schema import (
    Config,
    DataConfig,
    EvalConfig,
    MarginConfig,
    MemoryConfig,
    ModelConfig,
    ObjectiveConfig,
    SynthConfig,
    TrainConfig,
)

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "MarginConfig",
    "MemoryConfig",
    "ModelConfig",
    "ObjectiveConfig",
    "SynthConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "merge_trees",
    "parse_override",
    "save_config",
]
