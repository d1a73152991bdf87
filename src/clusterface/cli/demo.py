"""`clusterface demo`: the main job (what `make demo` runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clusterface.cli.common import ConfigOption, OverridesArgument
from clusterface.config import ConfigError


def demo_command(
    overrides: OverridesArgument = None,
    config: ConfigOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the runs and the report.")] = Path(
        "runs/demo"
    ),
    quick: Annotated[
        bool, typer.Option("--quick", help="120 identities and 2 epochs: about a minute, for a first look.")
    ] = False,
) -> None:
    """Generate SynthFaces (cached), train the ArcFace baseline and the full method with the same
    budget, evaluate both on held-out identities (10-fold verification, TAR@FAR, clustering) and
    write a side-by-side report (OUT/report.md, OUT/report.html, plots).

    Defaults: 360 identities (25% held out), backbone cfnet_s, 5 epochs (about 10 minutes on
    2 CPU cores); --quick: 120 identities, 2 epochs (about a minute). Any config field can be overridden, e.g.
    `clusterface demo schedule.epochs=4 synth.preset=hard`.
    """
    from clusterface.workflows import demo_config, run_demo

    try:
        cfg = demo_config(config, overrides or [], quick=quick)
    except ConfigError as err:
        raise typer.BadParameter(str(err)) from err
    out_dir = out if not quick or out != Path("runs/demo") else Path("runs/demo-quick")
    result = run_demo(cfg, out_dir)
    typer.echo(f"report: {result.report}")
