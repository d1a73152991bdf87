"""`clusterface models`: list registered backbones with parameters and FLOPs."""

from __future__ import annotations

from typing import Annotated, Optional

import typer


def models_command(
    names: Annotated[
        Optional[list[str]],  # noqa: UP045 (typer needs Optional on 3.11)
        typer.Argument(help="backbones to show (default: all registered)"),
    ] = None,
    embedding_dim: int = typer.Option(512, "--embedding-dim", help="embedding size the backbones are built with"),
) -> None:
    """List registered backbones with parameters and FLOPs (112x112 input, FLOPs = 2 per multiply-add)."""
    import torch  # here, not at the top: `clusterface --help` must not pay for importing torch

    from clusterface.models import count_flops, count_parameters, create_backbone, list_backbones

    available = list_backbones()
    chosen = names or available
    unknown = [n for n in chosen if n not in available]
    if unknown:
        raise typer.BadParameter(f"unknown backbone(s) {', '.join(unknown)}; available: {', '.join(available)}")
    typer.echo(f"{'name':<16}{'params (M)':>12}{'GFLOPs':>10}")
    for name in chosen:
        with torch.device("meta"):  # shapes only: no weights are allocated or initialised
            model = create_backbone(name, embedding_dim=embedding_dim)
        typer.echo(f"{name:<16}{count_parameters(model) / 1e6:>12.2f}{count_flops(model) / 1e9:>10.3f}")
