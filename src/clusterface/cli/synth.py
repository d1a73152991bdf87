"""`clusterface synth`: generate the SynthFaces dataset (cached; resumes after an interruption).

Its options are built from ``SynthConfig``'s fields (name, type, description, default), so the
schema is the only list of them.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, get_origin

import typer
from pydantic import ValidationError

from clusterface.cli.common import ConfigOption, OverridesArgument, resolve_config
from clusterface.config.schema import SynthConfig

_DEFAULTS = SynthConfig()


def _option_type(annotation: Any) -> type:
    """The click-friendly type of a field: Literal choices are strings (SynthConfig validates them)."""
    if get_origin(annotation) is Literal:
        return str
    return annotation if annotation in (int, float, str, bool, Path) else str


def _field_option(name: str) -> inspect.Parameter:
    info = SynthConfig.model_fields[name]
    decls = ("--out", "-o") if name == "root" else ("--" + name.replace("_", "-"),)
    default = f"{'synth.root = ' if name == 'root' else ''}{getattr(_DEFAULTS, name)}"
    option = typer.Option(*decls, help=info.description, show_default=default)
    annotation = Annotated[Optional[_option_type(info.annotation)], option]  # type: ignore[valid-type]  # noqa: UP045
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def synth_command(
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace a dataset with other parameters in --out")
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="show a progress bar")] = True,
    config: ConfigOption = None,
    overrides: OverridesArgument = None,
    **fields: Any,
) -> None:
    """Generate SynthFaces: train/test image folders, LFW-style pairs, a .bin set, a contact sheet.

    Options override the config's ``synth`` section (YAML via --config, then dotted overrides
    such as synth.lookalike_fraction=0.2). A second call with the same parameters reuses the
    complete output; an interrupted call resumes where it stopped.
    """
    from clusterface.synth import generate_dataset  # keeps `clusterface --help` fast

    base = resolve_config(config, overrides).synth
    given = {k: v for k, v in fields.items() if v is not None}
    try:
        cfg = SynthConfig(**{**base.model_dump(), **given})
    except ValidationError as err:
        raise typer.BadParameter(str(err)) from err
    try:
        paths = generate_dataset(cfg, progress=progress, overwrite=overwrite)
    except (OSError, ValueError) as err:  # OSError: a full disk, another writer (OutputLockedError)
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


# typer reads the options from the signature: one per SynthConfig field, then the command's own.
_own = [
    p
    for p in inspect.signature(synth_command, eval_str=True).parameters.values()
    if p.kind is not inspect.Parameter.VAR_KEYWORD
]
_fields = [_field_option(name) for name in SynthConfig.model_fields]
synth_command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in _own] + _fields
)
synth_command.__annotations__ = {
    **{p.name: p.annotation for p in _fields},
    **{k: v for k, v in synth_command.__annotations__.items() if k != "fields"},
}
