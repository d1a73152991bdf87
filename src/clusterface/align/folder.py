"""``align``: a folder of photos -> one aligned 112×112 crop per face, a CSV, and the photos without a face.

Output under DST: ``faces/<photo path with / as __>_<k>.png`` (k = face index in the photo, largest
first), ``faces.csv`` (photo, face, crop, box, detector score, the ArcFace five landmarks and the
detector's own landmarks, all in photo pixels), ``no_face.txt`` and ``unreadable.txt`` (one photo
per line; neither is fatal). Crops are PNG (lossless: they are re-encoded nowhere else).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from clusterface.align.detector import Detection, FaceDetector
from clusterface.align.template import CROP_SIZE, warp_face

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")  # image left/right
CSV_FIELDS = [
    "photo",
    "face",
    "crop",
    "x0",
    "y0",
    "x1",
    "y1",
    "score",
    *(f"{name}_{c}" for name in LANDMARK_NAMES for c in "xy"),
    "raw_landmarks",
]


@dataclass
class AlignedFace:
    """One aligned face: where it came from, its crop file and its detection."""

    photo: Path
    index: int
    crop: Path
    detection: Detection


@dataclass
class AlignResult:
    """What ``align_folder`` found and wrote."""

    faces: list[AlignedFace] = field(default_factory=list)
    no_face: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    photos: int = 0
    csv: Path | None = None


def iter_photos(src: Path) -> Iterator[Path]:
    """Image files under ``src`` (recursively, sorted), or ``src`` itself when it is a file."""
    from clusterface.data.decode import is_image_file

    if src.is_file():
        yield src
        return
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            if is_image_file(name):
                yield Path(root) / name


def read_photo(path: Path) -> NDArray[np.uint8]:
    """8-bit RGB (H, W, 3) at full size, through the project's decoder (EXIF orientation applied)."""
    from clusterface.data.decode import decode_image

    return decode_image(path.read_bytes(), str(path))


def crop_name(photo: Path, src: Path, index: int) -> str:
    """A flat, unique file name for face ``index`` of ``photo`` (its path under ``src``)."""
    rel = photo.relative_to(src) if src.is_dir() else Path(photo.name)
    return f"{'__'.join(rel.with_suffix('').parts)}_{index}.png"


def detect_faces(detector: FaceDetector, rgb: NDArray[np.uint8], max_faces: int | None = None) -> list[Detection]:
    """The detector's faces, largest box first (at most ``max_faces``)."""
    found = sorted(detector.detect(rgb), key=lambda d: -(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
    return found[:max_faces] if max_faces else found


def _row(face: AlignedFace, src: Path) -> dict[str, object]:
    d = face.detection
    row: dict[str, object] = {
        "photo": str(face.photo.relative_to(src) if src.is_dir() else face.photo.name),
        "face": face.index,
        "crop": face.crop.name,
        **{k: f"{v:.1f}" for k, v in zip(("x0", "y0", "x1", "y1"), d.box, strict=True)},
        "score": f"{d.score:.3f}",
        "raw_landmarks": " ".join(f"{x:.1f},{y:.1f}" for x, y in d.raw_landmarks),
    }
    for name, (x, y) in zip(LANDMARK_NAMES, d.landmarks, strict=True):
        row[f"{name}_x"], row[f"{name}_y"] = f"{x:.1f}", f"{y:.1f}"
    return row


def align_folder(
    src: str | Path,
    dst: str | Path,
    detector: FaceDetector,
    size: int = CROP_SIZE,
    max_faces: int | None = None,
    progress: bool = True,
) -> AlignResult:
    """Detect, align and write every face of every photo under ``src`` (module docstring)."""
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such file or folder")
    faces_dir = dst / "faces"
    faces_dir.mkdir(parents=True, exist_ok=True)
    result = AlignResult()
    photos = list(iter_photos(src))
    for photo in tqdm(photos, desc="align", unit="photo", disable=not progress):
        result.photos += 1
        try:
            rgb = read_photo(photo)
        except (OSError, ValueError) as err:
            result.unreadable.append((photo, str(err)))
            continue
        found = detect_faces(detector, rgb, max_faces)
        if not found:
            result.no_face.append(photo)
            continue
        for k, det in enumerate(found):
            crop = faces_dir / crop_name(photo, src, k)
            bgr = np.ascontiguousarray(warp_face(rgb, det.transform, size)[:, :, ::-1])
            if not cv2.imwrite(str(crop), bgr):
                raise OSError(f"{crop}: cannot write the crop (disk full or no permission?)")
            result.faces.append(AlignedFace(photo, k, crop, det))
    result.csv = dst / "faces.csv"
    with result.csv.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for face in result.faces:
            writer.writerow(_row(face, src))
    (dst / "no_face.txt").write_text("".join(f"{p}\n" for p in result.no_face))
    (dst / "unreadable.txt").write_text("".join(f"{p}\t{why}\n" for p, why in result.unreadable))
    return result
