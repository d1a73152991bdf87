"""`clusterface evaluate` and `clusterface cluster` (placeholders until evaluation lands)."""

from __future__ import annotations

import typer


def evaluate_command() -> None:
    """Evaluate a model: verification, IJB, clustering."""
    typer.echo("evaluate: not implemented yet", err=True)
    raise typer.Exit(3)


def cluster_command() -> None:
    """Cluster face crops."""
    typer.echo("cluster: not implemented yet", err=True)
    raise typer.Exit(3)
