"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from clusterface.config import Config, ConfigError, load_config

ConfigOption = Annotated[
    Optional[Path],  # noqa: UP045 (typer needs Optional on 3.11)
    typer.Option("--config", "-c", help="YAML config (see configs/); defaults apply where it is silent."),
]
OverridesArgument = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Argument(help="Dotted overrides applied after the YAML, e.g. optim.lr=0.05 model.backbone=iresnet50."),
]


def resolve_config(config: Path | None, overrides: list[str] | None) -> Config:
    """Load config + overrides, turning a bad config into a clean CLI error."""
    try:
        return load_config(config, overrides or [])
    except ConfigError as err:
        raise typer.BadParameter(str(err)) from err
