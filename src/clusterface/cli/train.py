"""`clusterface train` and `clusterface demo` (placeholders until the trainer lands)."""

from __future__ import annotations

import typer


def train_command() -> None:
    """Train a model."""
    typer.echo("train: not implemented yet", err=True)
    raise typer.Exit(3)


def demo_command() -> None:
    """Generate data, train ArcFace and the full method, evaluate both, write a report."""
    typer.echo("demo: not implemented yet", err=True)
    raise typer.Exit(3)
