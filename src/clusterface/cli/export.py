"""`clusterface export` and `clusterface calibrate`: argument parsing only; the work is in clusterface.export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

FarsOpt = Annotated[
    Optional[list[float]],  # noqa: UP045 (typer needs Optional on 3.11)
    typer.Option("--far", help="Target false-accept rate(s) to calibrate; repeat (default 1e-3, 1e-4, 1e-5)."),
]


def export_command(
    checkpoint: Annotated[Path, typer.Argument(help="clusterface training checkpoint (.pt).", exists=True)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: model.onnx, model.safetensors, model.json.")],
    calibrate: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Pairs for thresholds: a .bin set or pairs.txt (with --images).", exists=True),
    ] = None,
    images: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Image folder of --calibrate pairs.txt (default ./images next to it).", exists=True),
    ] = None,
    fars: FarsOpt = None,
    flip: Annotated[
        bool, typer.Option("--flip/--no-flip", help="Consumers should sum emb(img) + emb(hflip(img)).")
    ] = True,
    opset: Annotated[int, typer.Option(help="ONNX opset.")] = 17,
) -> None:
    """Export a checkpoint's backbone as ONNX (dynamic batch) + safetensors with preprocessing metadata."""
    from clusterface.checkpoint import CheckpointError
    from clusterface.export import CALIBRATION_FARS, ParityError, export_checkpoint, thresholds_table

    try:
        result = export_checkpoint(
            checkpoint,
            out,
            calibrate=calibrate,
            calibrate_images=images,
            fars=tuple(fars or CALIBRATION_FARS),
            flip=flip,
            opset=opset,
            progress=True,
        )
    except (CheckpointError, ParityError, ValueError, FileNotFoundError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    m = result.metadata
    typer.echo(f"wrote {result.onnx} (opset {result.opset}), {result.weights}, {result.model_json}")
    typer.echo(
        f"{m.backbone}, {m.embedding_size}-d, input {m.input_size}x{m.input_size} {m.color_order}, "
        f"(x - {m.mean[0]:g}) / {m.std[0]:g}, flip test {'on' if m.flip else 'off'}, "
        f"config sha256 {(m.config_sha256 or '?')[:12]}"
    )
    if result.parity is not None:
        typer.echo(
            f"parity: max |ONNX - torch| of normalised embeddings {result.parity.max_abs_diff:.2e} "
            f"on {result.parity.num_images} images (< {result.parity.tolerance:.0e})"
        )
    for line in thresholds_table(m.thresholds):
        typer.echo(line)
    for key, why in result.skipped_fars.items():
        typer.echo(f"FAR {key}: not calibrated ({why})")
    typer.echo(f"time: {', '.join(f'{k} {v:.2f} s' for k, v in result.seconds.items())}")


def calibrate_command(
    model: Annotated[Path, typer.Argument(help="Export folder, ONNX model or checkpoint.", exists=True)],
    pairs: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="LFW-style pairs.txt (images from --images, default ./images next to it).", exists=True),
    ] = None,
    images: Annotated[Optional[Path], typer.Option(help="Image folder of --pairs.", exists=True)] = None,  # noqa: UP045
    bin_path: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--bin", help="insightface .bin verification set (instead of --pairs).", exists=True),
    ] = None,
    fars: FarsOpt = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the threshold's interval.")] = 1000,
    batch_size: Annotated[int, typer.Option(help="Images per forward pass.")] = 128,
) -> None:
    """Thresholds at target FARs (95% bootstrap and exact binomial intervals), stored with the model."""
    from clusterface.export import CALIBRATION_FARS, thresholds_table
    from clusterface.inference import calibrate_model

    if (pairs is None) == (bin_path is None):
        raise typer.BadParameter("give exactly one of --pairs (with --images) or --bin")
    try:
        result = calibrate_model(
            model,
            pairs or bin_path,  # type: ignore[arg-type]
            images,
            fars=tuple(fars or CALIBRATION_FARS),
            n_boot=n_boot,
            batch_size=batch_size,
        )
    except (ValueError, FileNotFoundError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    for line in thresholds_table(result.thresholds):
        typer.echo(line)
    for key, why in result.skipped.items():
        typer.echo(f"FAR {key}: not calibrated ({why})")
    typer.echo(f"written: {', '.join(str(p) for p in result.written)}")
    if not result.thresholds:
        raise typer.Exit(1)
