"""``clusterface data convert``: image folder <-> RecordIO, atomically.

Folder -> RecordIO writes insightface's layout (header record 0, image records ``1..N`` grouped by
label, identity records ``N+1..N+C`` holding each identity's key range), copying each image's
encoded bytes unchanged, plus ``train.label_map.json`` with the identity names. RecordIO -> folder
writes ``DST/<identity>/<n>.<ext>`` (names from the label map when there is one, else the
zero-padded label) and ``DST/label_map.json``, so labels survive the round trip exactly.

Nothing that looks complete appears before the end: the ``.rec`` / ``.idx`` are written under
``*.tmp`` names and renamed last (``.rec`` after ``.idx``); a folder is built under a hidden
temporary name and renamed into place. An exception or Ctrl-C removes the temporary files.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from clusterface.data.decode import ImageDecodeError, decode_image, inspect_image
from clusterface.data.image_folder import (
    LABEL_MAP_NAME,
    LabelMapError,
    index_image_folder,
    load_label_map,
    save_label_map,
)
from clusterface.data.output_lock import OutputLock
from clusterface.data.recordio import IndexedRecordIO, RecordIOError, RecordIOWriter, default_idx_path, pack_record
from clusterface.data.recordio_dataset import detect_layout, label_map_path_for, read_record_labels
from clusterface.data.scan import BadFile

_SIGNATURES = (
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"BM", ".bmp"),
    (b"GIF8", ".gif"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
)
_PIL_FORMAT_EXT = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "GIF": ".gif", "TIFF": ".tif", "WEBP": ".webp"}


@dataclass
class ConvertResult:
    """What a conversion wrote and what it left out."""

    outputs: list[Path]
    images: int
    identities: int
    skipped: list[BadFile] = field(default_factory=list)


def image_extension(data: bytes, name: str = "<bytes>") -> str:
    """File extension for encoded image bytes, from their signature (or Pillow's format)."""
    for magic, ext in _SIGNATURES:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    fmt, _, _ = inspect_image(data, name)
    if fmt not in _PIL_FORMAT_EXT:
        raise ImageDecodeError(f"{name}: image format {fmt} has no folder extension")
    return _PIL_FORMAT_EXT[fmt]


def is_plain_folder_name(name: str) -> bool:
    """True when ``name`` is one path component that stays inside its parent folder."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        return False
    try:
        return len(os.fsencode(name)) <= 255
    except UnicodeError:
        return False


def _check(data: bytes, name: str, verify: bool, skipped: list[BadFile]) -> bool:
    if not verify:
        return True
    try:
        decode_image(data, name)
    except ImageDecodeError as err:
        skipped.append(BadFile(name, str(err).removeprefix(f"{name}: ")))
        return False
    return True


def _refuse_existing(paths: list[Path], overwrite: bool) -> None:
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass overwrite=True (--overwrite) to replace it")


def folder_to_recordio(
    src: str | Path,
    dst_rec: str | Path,
    label_map: str | Path | None = None,
    verify: bool = True,
    overwrite: bool = False,
    progress: bool = True,
) -> ConvertResult:
    """Image folder -> ``dst_rec`` + ``.idx`` + ``.label_map.json`` (insightface layout).

    ``verify`` decodes every image and leaves out (and reports) the bad ones.
    """
    dst_rec = Path(dst_rec)
    with OutputLock(dst_rec, f"clusterface data convert {src} {dst_rec}"):
        return _folder_to_recordio(Path(src), dst_rec, label_map, verify, overwrite, progress)


def _folder_to_recordio(
    src: Path, dst_rec: Path, label_map: str | Path | None, verify: bool, overwrite: bool, progress: bool
) -> ConvertResult:
    idx_path, map_path = default_idx_path(dst_rec), label_map_path_for(dst_rec)
    _refuse_existing([dst_rec, idx_path], overwrite)
    index = index_image_folder(src, label_map)
    num_classes = index.num_classes
    skipped: list[BadFile] = []
    kept_labels: list[int] = []
    with RecordIOWriter(dst_rec, idx_path) as writer:
        key = 1
        for path, label in tqdm(
            zip(index.paths, index.labels, strict=True),
            total=len(index.paths),
            desc=f"{Path(src).name} -> {dst_rec.name}",
            unit="img",
            disable=not progress,
        ):
            data = path.read_bytes()
            if not _check(data, str(path), verify, skipped):
                continue
            writer.write(key, pack_record(int(label), data, id=key))
            kept_labels.append(int(label))
            key += 1
        n = key - 1
        # The header needs N (known only once bad images are left out), so it is written after the
        # images; readers find it at key 0 through the .idx, whatever its offset.
        writer.write(0, pack_record([n + 1, n + 1 + num_classes], b""))
        labels = np.asarray(kept_labels, dtype=np.int64)
        starts = 1 + np.searchsorted(labels, np.arange(num_classes), side="left")
        stops = 1 + np.searchsorted(labels, np.arange(num_classes), side="right")
        for k in range(num_classes):
            writer.write(n + 1 + k, pack_record([int(starts[k]), int(stops[k])], b""))
        save_label_map(map_path, index.label_map)
    return ConvertResult([dst_rec, idx_path, map_path], n, len(np.unique(labels)), skipped)


def recordio_to_folder(
    src_rec: str | Path, dst_dir: str | Path, verify: bool = True, overwrite: bool = False, progress: bool = True
) -> ConvertResult:
    """RecordIO -> ``dst_dir/<identity>/<n>.<ext>`` + ``label_map.json`` (bytes copied unchanged)."""
    src_rec, dst_dir = Path(src_rec), Path(dst_dir)
    if src_rec.suffix.lower() == ".idx":
        src_rec = src_rec.with_suffix(".rec")
    with OutputLock(dst_dir, f"clusterface data convert {src_rec} {dst_dir}"):
        return _recordio_to_folder(src_rec, dst_dir, verify, overwrite, progress)


def _recordio_to_folder(src_rec: Path, dst_dir: Path, verify: bool, overwrite: bool, progress: bool) -> ConvertResult:
    _refuse_existing([dst_dir], overwrite)
    reader = IndexedRecordIO(src_rec)
    layout = detect_layout(reader)
    labels = read_record_labels(reader, layout)
    names_by_label: dict[int, str] = {}
    sidecar = label_map_path_for(src_rec)
    if sidecar.is_file():
        names_by_label = {v: k for k, v in load_label_map(sidecar).items()}
        unsafe = [name for name in names_by_label.values() if not is_plain_folder_name(name)]
        if unsafe:  # checked before anything is written: a name is a path component under dst_dir
            raise LabelMapError(
                f"{sidecar}: identity name {unsafe[0]!r} is not a plain folder name (empty, '.', '..', a path "
                f"separator, NUL or over 255 bytes; {len(unsafe)} such names) and would be written outside "
                f"{dst_dir}: rename it in the label map"
            )
    width = len(str(int(labels.max()))) if labels.size else 1
    skipped: list[BadFile] = []
    counts: dict[int, int] = {}
    tmp = dst_dir.with_name(f".{dst_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for key, label in tqdm(
            zip(layout.image_keys, labels, strict=True),
            total=len(labels),
            desc=f"{src_rec.name} -> {dst_dir.name}",
            unit="img",
            disable=not progress,
        ):
            name = f"{src_rec}: record {int(key)}"
            try:
                _, data = reader.read_header(int(key))
                ext = image_extension(data, name)
            except (RecordIOError, ImageDecodeError) as err:
                skipped.append(BadFile(name, str(err).removeprefix(f"{name}: ")))
                continue
            if not _check(data, name, verify, skipped):
                continue
            label = int(label)
            identity = names_by_label.get(label, f"{label:0{width}d}")
            n = counts.get(label, 0)
            counts[label] = n + 1
            out = tmp / identity / f"{n:06d}{ext}"
            if n == 0:
                out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        mapping = {names_by_label.get(lab, f"{lab:0{width}d}"): lab for lab in sorted(counts)}
        for lab, name in names_by_label.items():
            mapping.setdefault(name, lab)
        save_label_map(tmp / LABEL_MAP_NAME, mapping)
        if dst_dir.exists():
            shutil.rmtree(dst_dir)
        os.replace(tmp, dst_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ConvertResult([dst_dir], sum(counts.values()), len(counts), skipped)


def convert_dataset(
    src: str | Path, dst: str | Path, verify: bool = True, overwrite: bool = False, progress: bool = True
) -> ConvertResult:
    """Folder -> RecordIO when ``src`` is a directory (``dst`` a ``.rec``, or a directory that gets
    ``train.rec``); RecordIO -> folder when ``src`` is a ``.rec`` / ``.idx``."""
    src, dst = Path(src), Path(dst)
    if src.is_dir():
        if dst.suffix.lower() != ".rec":
            dst = dst / "train.rec"
        return folder_to_recordio(src, dst, verify=verify, overwrite=overwrite, progress=progress)
    if src.suffix.lower() in (".rec", ".idx"):
        return recordio_to_folder(src, dst, verify=verify, overwrite=overwrite, progress=progress)
    raise ValueError(f"{src}: expected an image folder or a .rec/.idx file")
