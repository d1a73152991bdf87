"""`clusterface data scan|convert`: argument parsing only; the work is in clusterface.data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    help="Inspect and convert datasets (RecordIO, image folders, .bin sets, pairs.txt).", no_args_is_help=True
)


@app.command("scan")
def scan_command(
    path: Annotated[Path, typer.Argument(help="Image folder, .rec/.idx, .bin or pairs.txt (format auto-detected).")],
    images: Annotated[
        Optional[Path],  # noqa: UP045 (typer needs Optional on 3.11)
        typer.Option("--images", help="pairs.txt: the image folder it refers to (default: ./images next to it)."),
    ] = None,
    json_out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--json", help="Also write the report as JSON to this file."),
    ] = None,
    max_bad_fraction: Annotated[
        float, typer.Option(help="Training data is usable with at most this fraction of bad images.", min=0, max=1)
    ] = 0.01,
    quick: Annotated[bool, typer.Option("--quick", help="Read image headers only, without decoding pixels.")] = False,
    workers: Annotated[int, typer.Option(help="Check images in this many processes (0: in this one).", min=0)] = 0,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> int:
    """Describe a dataset and list every bad file. Exit code 0: usable, 1: not usable."""
    from clusterface.data.scan import format_report, scan_path

    report = scan_path(
        path, images, max_bad_fraction=max_bad_fraction, decode=not quick, progress=progress, workers=workers
    )
    typer.echo(format_report(report))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
    if not report.usable:
        raise typer.Exit(1)
    return 0


@app.command("convert")
def convert_command(
    src: Annotated[Path, typer.Argument(help="Image folder (root/<identity>/*.jpg) or a .rec/.idx file.")],
    dst: Annotated[Path, typer.Argument(help="A .rec (or a folder to hold train.rec) / an output image folder.")],
    verify: Annotated[bool, typer.Option(help="Decode every image and leave out (and list) the bad ones.")] = True,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> int:
    """Convert an image folder to RecordIO (insightface layout) or back; outputs appear only when complete."""
    from clusterface.data.convert import convert_dataset

    try:
        result = convert_dataset(src, dst, verify=verify, overwrite=overwrite, progress=progress)
    except (OSError, ValueError) as err:  # OSError: a full disk, another writer (OutputLockedError), missing input
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(
        f"wrote {result.images} images of {result.identities} identities: " + ", ".join(map(str, result.outputs))
    )
    for bad in result.skipped:
        typer.echo(f"  left out {bad.path}: {bad.reason}")
    return 0
