"""`clusterface synth`: generate the SynthFaces dataset (cached; resumes after an interruption)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from clusterface.cli.common import ConfigOption, OverridesArgument, resolve_config
from clusterface.config.schema import SynthConfig

_DEFAULTS = SynthConfig()
# typer needs Optional on 3.11
OptPath = Optional[Path]  # noqa: UP045
OptInt = Optional[int]  # noqa: UP045
OptStr = Optional[str]  # noqa: UP045
OptFloat = Optional[float]  # noqa: UP045


def synth_command(
    out: Annotated[
        OptPath, typer.Option("--out", "-o", help=f"output directory [default: synth.root = {_DEFAULTS.root}]")
    ] = None,
    identities: Annotated[
        OptInt, typer.Option(help=f"identities, split into train and test [default: {_DEFAULTS.identities}]")
    ] = None,
    seed: Annotated[OptInt, typer.Option(help=f"random seed [default: {_DEFAULTS.seed}]")] = None,
    preset: Annotated[
        OptStr, typer.Option(help=f"difficulty: easy, default or hard [default: {_DEFAULTS.preset}]")
    ] = None,
    images_min: Annotated[
        OptInt, typer.Option(help=f"fewest images per identity [default: {_DEFAULTS.images_min}]")
    ] = None,
    images_median: Annotated[
        OptInt, typer.Option(help=f"median images per identity [default: {_DEFAULTS.images_median}]")
    ] = None,
    images_max: Annotated[
        OptInt, typer.Option(help=f"most images per identity [default: {_DEFAULTS.images_max}]")
    ] = None,
    label_noise: Annotated[
        OptFloat,
        typer.Option(help=f"fraction of train images filed under a wrong identity [default: {_DEFAULTS.label_noise}]"),
    ] = None,
    workers: Annotated[
        OptInt, typer.Option(help=f"worker processes (0/1: in-process) [default: {_DEFAULTS.workers}]")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace a dataset with other parameters in --out")
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="show a progress bar")] = True,
    config: ConfigOption = None,
    overrides: OverridesArgument = None,
) -> None:
    """Generate SynthFaces: train/test image folders, LFW-style pairs, a .bin set, a contact sheet.

    Options override the config's ``synth`` section (YAML via --config, then dotted overrides
    such as synth.lookalike_fraction=0.2). A second call with the same parameters reuses the
    complete output; an interrupted call resumes where it stopped.
    """
    from clusterface.synth import generate_dataset  # keeps `clusterface --help` fast

    base = resolve_config(config, overrides).synth
    given = {
        "root": out,
        "identities": identities,
        "seed": seed,
        "preset": preset,
        "images_min": images_min,
        "images_median": images_median,
        "images_max": images_max,
        "label_noise": label_noise,
        "workers": workers,
    }
    try:
        cfg = SynthConfig(**{**base.model_dump(), **{k: v for k, v in given.items() if v is not None}})
    except ValidationError as err:
        raise typer.BadParameter(str(err)) from err
    try:
        paths = generate_dataset(cfg, progress=progress, overwrite=overwrite)
    except (FileExistsError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    manifest = json.loads(paths.manifest.read_text())
    pairs = manifest["pairs"]
    typer.echo(
        f"SynthFaces in {paths.root}: "
        f"{manifest['train_identities']} train identities / {manifest['train_images']} images, "
        f"{manifest['test_identities']} test identities / {manifest['test_images']} images, "
        f"{pairs['folds']} folds x {pairs['pairs_per_fold']} genuine + {pairs['pairs_per_fold']} impostor pairs"
    )
    typer.echo(f"  train: {paths.train_dir}\n  test:  {paths.test_images_dir}")
    typer.echo(f"  pairs: {paths.pairs_path}\n  bin:   {paths.bin_path}")
    if "val_identities" in manifest:
        typer.echo(
            f"  validation: {manifest['val_identities']} identities / {manifest['val_images']} images in "
            f"{paths.val_images_dir}, bin {paths.val_bin_path}"
        )
    typer.echo(f"  contact sheet: {paths.contact_sheet}")
