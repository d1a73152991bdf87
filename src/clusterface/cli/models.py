"""`clusterface models`: list registered backbones (placeholder until backbones land)."""

from __future__ import annotations

import typer


def models_command() -> None:
    """List registered backbones with parameters and FLOPs."""
    typer.echo("models: not implemented yet", err=True)
    raise typer.Exit(3)
