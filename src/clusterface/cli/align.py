"""`clusterface align`: argument parsing only; the work is in clusterface.align."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def align_command(
    src: Annotated[Path, typer.Argument(help="A photo or a folder of photos (searched recursively).", exists=True)],
    dst: Annotated[Path, typer.Argument(help="Output folder: faces/*.png, faces.csv, no_face.txt, unreadable.txt.")],
    upsample: Annotated[int, typer.Option(help="Image doublings before detection (finds smaller faces, slower).")] = 1,
    max_side: Annotated[
        int, typer.Option(help="Shrink larger photos to this for detection (landmarks: full size).")
    ] = 1024,
    min_score: Annotated[float, typer.Option(help="Drop detections below this detector score.")] = 0.0,
    max_faces: Annotated[
        Optional[int],  # noqa: UP045 (typer needs Optional on 3.11)
        typer.Option(help="Keep at most this many faces per photo (largest first)."),
    ] = None,
    size: Annotated[int, typer.Option(help="Crop size (the ArcFace template is for 112).")] = 112,
) -> None:
    """Detect faces with 5 landmarks and write 112×112 crops aligned to the ArcFace template."""
    from clusterface.align import DetectorUnavailableError, DlibDetector, align_folder

    try:
        detector = DlibDetector(upsample=upsample, max_side=max_side, min_score=min_score)
    except DetectorUnavailableError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    result = align_folder(src, dst, detector, size=size, max_faces=max_faces)
    typer.echo(
        f"{result.photos} photos: {len(result.faces)} faces written to {dst / 'faces'}; "
        f"{len(result.no_face)} without a face (no_face.txt), {len(result.unreadable)} unreadable (unreadable.txt)"
    )
    typer.echo(f"boxes, scores and landmarks: {result.csv}")
