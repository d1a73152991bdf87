"""`clusterface synth`: generate SynthFaces (placeholder until the SynthFaces generator lands)."""

from __future__ import annotations

import typer


def synth_command() -> None:
    """Generate procedural synthetic face identities."""
    typer.echo("synth: not implemented yet", err=True)
    raise typer.Exit(3)
