"""`clusterface data scan|convert` (placeholders until the data formats land)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect and convert datasets (RecordIO, image folders, .bin sets).", no_args_is_help=True)


@app.command("scan")
def scan_command() -> None:
    """Describe a dataset and list every bad file."""
    typer.echo("data scan: not implemented yet", err=True)
    raise typer.Exit(3)
