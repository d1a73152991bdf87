"""`clusterface models`: list registered backbones with parameters and FLOPs."""

from __future__ import annotations

import torch
import typer

from clusterface.models import count_flops, count_parameters, create_backbone, list_backbones


def models_command(
    embedding_dim: int = typer.Option(512, "--embedding-dim", help="embedding size the backbones are built with"),
) -> None:
    """List registered backbones with parameters and FLOPs (112x112 input, FLOPs = 2 per multiply-add)."""
    typer.echo(f"{'name':<16}{'params (M)':>12}{'GFLOPs':>10}")
    for name in list_backbones():
        with torch.device("meta"):  # shapes only: no weights are allocated or initialised
            model = create_backbone(name, embedding_dim=embedding_dim)
        typer.echo(f"{name:<16}{count_parameters(model) / 1e6:>12.2f}{count_flops(model) / 1e9:>10.3f}")
