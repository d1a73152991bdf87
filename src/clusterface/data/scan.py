"""``clusterface data scan``: what a dataset is, and every bad file in it.

The format is detected from the path: a directory is an image folder, ``*.rec`` / ``*.idx`` a
RecordIO pair, ``*.bin`` a verification set, any other file a ``pairs.txt``. Every image is read
and fully decoded (``decode=False`` only parses headers). The report is *usable* when nothing
stops training / evaluation: for training data at least 2 identities and at most
``max_bad_fraction`` bad images (what the ``skip`` policy tolerates), for verification data
(``.bin``, pairs) no bad image at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from clusterface.data.bin_set import BinFormatError, load_bin
from clusterface.data.decode import ImageDecodeError, decode_image, inspect_image
from clusterface.data.image_folder import LabelMapError, index_image_folder
from clusterface.data.pairs import PairsFormatError, read_pairs
from clusterface.data.recordio import IndexedRecordIO, RecordIOError, default_idx_path, unpack_record
from clusterface.data.recordio_dataset import detect_layout, read_record_labels

_HISTOGRAM_EDGES = (1, 2, 3, 6, 11, 21, 51, 101, 201, 501, 1001)


@dataclass
class BadFile:
    """An unreadable file (or ``file: record k`` / ``file[i]``) and why."""

    path: str
    reason: str


@dataclass
class ScanReport:
    """Everything ``data scan`` found; :meth:`to_dict` is the ``--json`` output."""

    path: str
    format: str
    images: int = 0
    identities: int = 0
    class_size_histogram: dict[str, int] = field(default_factory=dict)
    class_size_min: int = 0
    class_size_median: float = 0.0
    class_size_max: int = 0
    image_sizes: dict[str, int] = field(default_factory=dict)  # "WxH" -> count
    image_modes: dict[str, int] = field(default_factory=dict)  # "JPEG RGB" -> count
    pairs: int = 0
    genuine_pairs: int = 0
    folds: int = 0
    details: dict[str, object] = field(default_factory=dict)
    bad_files: list[BadFile] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["usable"] = self.usable
        return out


def class_size_histogram(sizes: Iterable[int]) -> dict[str, int]:
    """Counts of identities per class-size bucket: ``1``, ``2``, ``3-5``, ..., ``>1000``."""
    arr = np.asarray(list(sizes), dtype=np.int64)
    out: dict[str, int] = {}
    for lo, hi in zip(_HISTOGRAM_EDGES, (*_HISTOGRAM_EDGES[1:], None), strict=True):
        name = f">{lo - 1}" if hi is None else (str(lo) if hi == lo + 1 else f"{lo}-{hi - 1}")
        count = int(((arr >= lo) & (arr < hi)).sum()) if hi is not None else int((arr >= lo).sum())
        if count:
            out[name] = count
    return out


def _insightface_dir_rec(path: Path) -> Path | None:
    """``DIR/train.rec`` of an insightface dataset directory (a ``train.rec`` and no identity folders)."""
    rec = path / "train.rec"
    if rec.is_file() and not any(p.is_dir() for p in path.iterdir()):
        return rec
    return None


def detect_format(path: str | Path) -> str:
    """``image-folder`` | ``recordio`` (a ``.rec``/``.idx``, or an insightface directory holding
    ``train.rec``) | ``bin`` | ``pairs``."""
    path = Path(path)
    if path.is_dir():
        return "recordio" if _insightface_dir_rec(path) is not None else "image-folder"
    suffix = path.suffix.lower()
    if suffix in (".rec", ".idx"):
        return "recordio"
    if suffix == ".bin":
        return "bin"
    return "pairs"


@dataclass
class _FileSource:
    """Image files to check (picklable, so chunks can go to worker processes)."""

    paths: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, lo: int, hi: int) -> _FileSource:
        return _FileSource(self.paths[lo:hi])

    def name(self, i: int) -> str:
        return self.paths[i]

    def read(self, i: int) -> bytes:
        return Path(self.paths[i]).read_bytes()


@dataclass
class _RecordSource:
    """Image records of a RecordIO file to check."""

    reader: IndexedRecordIO
    keys: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    def subset(self, lo: int, hi: int) -> _RecordSource:
        return _RecordSource(self.reader, self.keys[lo:hi])

    def name(self, i: int) -> str:
        return f"{self.reader.rec_path}: record {int(self.keys[i])}"

    def read(self, i: int) -> bytes:
        return unpack_record(self.reader.read(int(self.keys[i])), self.name(i))[1]


@dataclass
class _BytesSource:
    """Encoded images held in memory (a ``.bin``)."""

    images: list[bytes]
    prefix: str
    offset: int = 0

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, lo: int, hi: int) -> _BytesSource:
        return _BytesSource(self.images[lo:hi], self.prefix, self.offset + lo)

    def name(self, i: int) -> str:
        return f"{self.prefix}[{self.offset + i}]"

    def read(self, i: int) -> bytes:
        return self.images[i]


_Source = _FileSource | _RecordSource | _BytesSource


@dataclass
class _CheckResult:
    good: np.ndarray  # bool per item
    bad: list[BadFile]
    sizes: Counter[str]
    modes: Counter[str]


def _check_source(source: _Source, decode: bool) -> _CheckResult:
    """Read every item's header (size, mode) and, with ``decode``, decode it; collect bad ones."""
    good = np.zeros(len(source), dtype=bool)
    bad: list[BadFile] = []
    sizes: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    for i in range(len(source)):
        name = source.name(i)
        try:
            data = source.read(i)
            fmt, mode, (w, h) = inspect_image(data, name)
            if decode:
                decode_image(data, name)
        except FileNotFoundError:
            bad.append(BadFile(name, "missing"))
            continue
        except (ImageDecodeError, RecordIOError, OSError) as err:
            bad.append(BadFile(name, str(err).removeprefix(f"{name}: ")))
            continue
        good[i] = True
        sizes[f"{w}x{h}"] += 1
        modes[f"{fmt} {mode}"] += 1
    return _CheckResult(good, bad, sizes, modes)


def _run_checks(report: ScanReport, source: _Source, decode: bool, workers: int, show: bool) -> np.ndarray:
    """Check every item (in ``workers`` processes when > 1), fill the report; returns the good mask."""
    n = len(source)
    chunk = max(1, min(2048, -(-n // max(1, 8 * workers))))
    parts = [source.subset(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
    results: list[_CheckResult] = []
    with tqdm(total=n, desc="scan", unit="img", disable=not show, leave=False) as bar:
        if workers <= 1 or len(parts) <= 1:
            for part in parts:
                results.append(_check_source(part, decode))
                bar.update(len(part))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for result in pool.map(_check_source, parts, [decode] * len(parts)):
                    results.append(result)
                    bar.update(len(result.good))
    sizes: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    for r in results:
        report.bad_files.extend(r.bad)
        sizes.update(r.sizes)
        modes.update(r.modes)
    report.image_sizes = dict(sizes.most_common())
    report.image_modes = dict(modes.most_common())
    return np.concatenate([r.good for r in results]) if results else np.zeros(0, dtype=bool)


def _class_stats(report: ScanReport, labels: np.ndarray) -> None:
    sizes = np.bincount(labels) if labels.size else np.zeros(0, np.int64)
    sizes = sizes[sizes > 0]
    report.identities = len(sizes)
    if len(sizes):
        report.class_size_histogram = class_size_histogram(sizes)
        report.class_size_min, report.class_size_max = int(sizes.min()), int(sizes.max())
        report.class_size_median = float(np.median(sizes))


def _training_verdict(report: ScanReport, max_bad_fraction: float) -> None:
    if report.images == 0:
        report.problems.append("no images")
    elif report.identities < 2:
        report.problems.append(f"{report.identities} identity with images; training needs at least 2")
    if report.images and len(report.bad_files) > max_bad_fraction * report.images:
        report.problems.append(
            f"{len(report.bad_files)} bad images of {report.images} exceed max_bad_fraction={max_bad_fraction}"
        )
    elif report.bad_files:
        report.warnings.append(f"{len(report.bad_files)} bad images will be skipped (bad_file_policy=skip)")


def _scan_folder(report: ScanReport, root: Path, decode: bool, workers: int, show: bool) -> None:
    index = index_image_folder(root)
    report.ignored_files = [str(p) for p in index.ignored]
    if index.empty_identities:
        report.warnings.append(f"{len(index.empty_identities)} identity folders hold no images")
    good = _run_checks(report, _FileSource([str(p) for p in index.paths]), decode, workers, show)
    report.images = len(index.paths)
    _class_stats(report, index.labels[good])
    report.details["label_map"] = "label_map.json" if (root / "label_map.json").is_file() else "sorted folder names"


def _scan_recordio(report: ScanReport, path: Path, decode: bool, workers: int, show: bool) -> None:
    rec = _insightface_dir_rec(path) if path.is_dir() else path
    assert rec is not None
    rec = rec.with_suffix(".rec") if rec.suffix.lower() == ".idx" else rec
    reader = IndexedRecordIO(rec, default_idx_path(rec))
    report.path = str(rec)
    layout = detect_layout(reader)
    report.details.update(
        records=len(reader),
        layout="insightface (header record 0)" if layout.has_header else "header-less (im2rec)",
        identity_records=0 if layout.identity_ranges is None else len(layout.identity_ranges),
    )
    labels = read_record_labels(reader, layout)
    good = _run_checks(report, _RecordSource(reader, layout.image_keys), decode, workers, show)
    report.images = len(layout.image_keys)
    _class_stats(report, labels[good])


def _scan_bin(report: ScanReport, path: Path, decode: bool, workers: int, show: bool) -> None:
    vbin = load_bin(path)
    _run_checks(report, _BytesSource(vbin.images, str(path)), decode, workers, show)
    report.images = len(vbin.images)
    report.pairs = len(vbin.issame)
    report.genuine_pairs = int(sum(vbin.issame))


def _scan_pairs(
    report: ScanReport, path: Path, images_root: Path | None, decode: bool, workers: int, show: bool
) -> None:
    plist = read_pairs(path, images_root, check_files=False)
    report.details.update(layout=plist.layout, images_root=str(plist.images_root))
    report.pairs, report.genuine_pairs, report.folds = len(plist), int(plist.issame.sum()), plist.num_folds
    unique = sorted({p for pair in plist.pairs for p in (pair.path1, pair.path2)})
    _run_checks(report, _FileSource([str(p) for p in unique]), decode, workers, show)
    report.images = len(unique)
    report.identities = len({p.parent.name for p in unique})


def scan_path(
    path: str | Path,
    images_root: str | Path | None = None,
    max_bad_fraction: float = 0.01,
    decode: bool = True,
    progress: bool = False,
    workers: int = 0,
) -> ScanReport:
    """Scan a dataset (format auto-detected) and return the report; never raises on bad data.

    ``workers`` > 1 checks the images in that many processes (chunks of up to 2,048 images).
    """
    path = Path(path)
    fmt = detect_format(path)
    report = ScanReport(path=str(path), format=fmt)
    if not path.exists():
        report.problems.append(f"{path}: no such file or directory")
        return report
    root = Path(images_root) if images_root else None
    scanners: dict[str, Callable[[], None]] = {
        "image-folder": lambda: _scan_folder(report, path, decode, workers, progress),
        "recordio": lambda: _scan_recordio(report, path, decode, workers, progress),
        "bin": lambda: _scan_bin(report, path, decode, workers, progress),
        "pairs": lambda: _scan_pairs(report, path, root, decode, workers, progress),
    }
    try:
        scanners[fmt]()
    except (RecordIOError, BinFormatError, PairsFormatError, LabelMapError, OSError) as err:
        report.problems.append(str(err))
        return report
    if fmt in ("image-folder", "recordio"):
        _training_verdict(report, max_bad_fraction)
    else:
        if report.bad_files:
            report.problems.append(f"{len(report.bad_files)} of {report.images} images are bad or missing")
        if report.pairs == 0:
            report.problems.append("no pairs")
    return report


def format_report(report: ScanReport, max_listed: int | None = None) -> str:
    """Human-readable report (every bad file, unless ``max_listed`` caps the list)."""
    lines = [f"{report.path}: {report.format}"]
    for key, value in report.details.items():
        lines.append(f"  {key}: {value}")
    lines.append(f"  images: {report.images}")
    if report.identities:
        lines.append(f"  identities: {report.identities}")
    if report.class_size_histogram:
        lines.append(
            f"  images per identity: min {report.class_size_min}, median {report.class_size_median:g}, "
            f"max {report.class_size_max}"
        )
        lines.append(
            "  class-size histogram: " + ", ".join(f"{k}: {v}" for k, v in report.class_size_histogram.items())
        )
    if report.pairs:
        lines.append(
            f"  pairs: {report.pairs} ({report.genuine_pairs} genuine, {report.pairs - report.genuine_pairs} impostor)"
            + (f", folds: {report.folds}" if report.folds else "")
        )
    if report.image_sizes:
        lines.append("  image sizes: " + ", ".join(f"{k}: {v}" for k, v in list(report.image_sizes.items())[:8]))
    if report.image_modes:
        lines.append("  image modes: " + ", ".join(f"{k}: {v}" for k, v in report.image_modes.items()))
    if report.ignored_files:
        lines.append(f"  ignored non-image files: {len(report.ignored_files)}")
        lines.extend(f"    {p}" for p in report.ignored_files[:max_listed])
    lines.append(f"  bad files: {len(report.bad_files)}")
    lines.extend(f"    {b.path}: {b.reason}" for b in report.bad_files[:max_listed])
    lines.extend(f"  warning: {w}" for w in report.warnings)
    lines.extend(f"  problem: {p}" for p in report.problems)
    lines.append("  usable: yes" if report.usable else "  usable: NO")
    return "\n".join(lines)
