"""LFW-style pair lists (``pairs.txt``) over an image folder of aligned crops.

Two layouts (http://vis-www.cs.umass.edu/lfw/README.txt):

- 10-fold (``pairs.txt``): a header ``10<TAB>300`` (folds, pairs per class per fold), then for each
  fold 300 matched lines ``name n1 n2`` followed by 300 mismatched lines ``name1 n1 name2 n2``;
- development split (``pairsDevTrain.txt`` / ``pairsDevTest.txt``): a single count line ``1100``,
  then that many matched and that many mismatched lines (one fold).

Image ``n`` of identity ``name`` is the file ``root/name/<stem>.<ext>`` whose stem is
``name_%04d`` (LFW), or ``n`` with any zero padding (SynthFaces and other crops), with any image
extension.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from clusterface.data.bin_set import VerificationBin
from clusterface.data.decode import IMAGE_SIZE, decode_image, is_image_file, is_plain_jpeg, resize_to


class PairsFormatError(ValueError):
    """A malformed pair list, or a pair naming an image that is not there; the message names the file."""


@dataclass(frozen=True)
class Pair:
    """One verification pair and the fold it belongs to."""

    path1: Path
    path2: Path
    issame: bool
    fold: int


@dataclass(frozen=True)
class PairList:
    """The pairs of a ``pairs.txt``, in file order (so folds are contiguous blocks)."""

    path: Path
    images_root: Path
    pairs: list[Pair]
    num_folds: int
    layout: str  # "10-fold" | "development"

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return ((p.path1, p.path2, p.issame) for p in self.pairs)

    @property
    def issame(self) -> np.ndarray:
        return np.asarray([p.issame for p in self.pairs], dtype=bool)

    @property
    def folds(self) -> np.ndarray:
        return np.asarray([p.fold for p in self.pairs], dtype=np.int64)


class _ImageResolver:
    """``(name, n)`` -> file, with one directory listing per identity."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stems: dict[str, dict[str, Path]] = {}
        self._numbers: dict[str, dict[int, Path]] = {}

    def _listing(self, name: str) -> tuple[dict[str, Path], dict[int, Path]]:
        if name not in self._stems:
            d = self.root / name
            stems = {p.stem: p for p in sorted(d.iterdir()) if is_image_file(p)} if d.is_dir() else {}
            numbers: dict[int, Path] = {}
            for stem, p in stems.items():
                digits = stem.removeprefix(f"{name}_")
                if digits.isdigit():
                    numbers.setdefault(int(digits), p)
            self._stems[name], self._numbers[name] = stems, numbers
        return self._stems[name], self._numbers[name]

    def __call__(self, name: str, number: int) -> Path | None:
        stems, numbers = self._listing(name)
        for stem in (f"{name}_{number:04d}", str(number), f"{number:04d}", f"{name}_{number}"):
            if stem in stems:
                return stems[stem]
        return numbers.get(number)  # any zero padding: 7 -> 007.jpg


def default_images_root(pairs_path: str | Path) -> Path:
    """``DIR/images`` when it exists next to the pair list (SynthFaces), else ``DIR``."""
    parent = Path(pairs_path).parent
    return parent / "images" if (parent / "images").is_dir() else parent


def read_pairs(pairs_path: str | Path, images_root: str | Path | None = None, check_files: bool = True) -> PairList:
    """Parse a pair list (either layout) and resolve its images under ``images_root``.

    With ``check_files`` a pair whose image is missing raises :class:`PairsFormatError`.
    """
    pairs_path = Path(pairs_path)
    root = Path(images_root) if images_root is not None else default_images_root(pairs_path)
    try:
        lines = [ln.split() for ln in pairs_path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as err:
        raise PairsFormatError(f"{pairs_path}: cannot read pair list ({err})") from err
    numbered = [(i + 1, f) for i, f in enumerate(lines) if f]
    if not numbered:
        raise PairsFormatError(f"{pairs_path}: empty pair list")
    head_no, head = numbered[0]
    try:
        header = [int(x) for x in head]
    except ValueError as err:
        raise PairsFormatError(f"{pairs_path}: line {head_no}: expected a header '10 300' or a count") from err
    if len(header) == 2:
        num_folds, per_fold, layout = header[0], header[1], "10-fold"
    elif len(header) == 1:
        num_folds, per_fold, layout = 1, header[0], "development"
    else:
        raise PairsFormatError(f"{pairs_path}: line {head_no}: expected a header '10 300' or a count")
    body = numbered[1:]
    if len(body) != 2 * num_folds * per_fold:
        raise PairsFormatError(
            f"{pairs_path}: header says {num_folds} fold(s) x 2 x {per_fold} pairs = {2 * num_folds * per_fold} lines, "
            f"found {len(body)}"
        )
    resolve = _ImageResolver(root)
    pairs: list[Pair] = []
    for i, (line_no, fields) in enumerate(body):
        fold, within = divmod(i, 2 * per_fold)
        matched = within < per_fold
        try:
            if matched:
                if len(fields) != 3:
                    raise ValueError("a matched pair is 'name n1 n2'")
                refs = [(fields[0], int(fields[1])), (fields[0], int(fields[2]))]
            else:
                if len(fields) != 4:
                    raise ValueError("a mismatched pair is 'name1 n1 name2 n2'")
                refs = [(fields[0], int(fields[1])), (fields[2], int(fields[3]))]
        except ValueError as err:
            raise PairsFormatError(f"{pairs_path}: line {line_no}: {err}") from err
        paths: list[Path] = []
        for name, number in refs:
            found = resolve(name, number)
            if found is None:
                if check_files:
                    raise PairsFormatError(
                        f"{pairs_path}: line {line_no}: no image {number} of {name!r} under {root / name} "
                        f"(looked for {name}_{number:04d}.*, {number}.*, {number:04d}.*)"
                    )
                found = root / name / f"{name}_{number:04d}.jpg"
            paths.append(found)
        pairs.append(Pair(paths[0], paths[1], matched, fold))
    return PairList(pairs_path, root, pairs, num_folds, layout)


def _as_evaluable_bytes(path: Path, size: int) -> bytes:
    """A plain JPEG as it is; any other image decoded and re-encoded as a lossless PNG of the
    ``size x size`` RGB crop, so that other tools reading the .bin (insightface's OpenCV decoder)
    see the pixels this toolkit's decoder produced (alpha composited, 16-bit reduced, EXIF applied)."""
    data = path.read_bytes()
    if is_plain_jpeg(data):
        return data
    rgb = resize_to(decode_image(data, str(path)), size)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def pairs_to_bin(
    pairs: PairList | str | Path, images_root: str | Path | None = None, size: int = IMAGE_SIZE
) -> VerificationBin:
    """A pair list + image folder as a :class:`VerificationBin` (images 2i, 2i+1 form pair i),
    ready for ``evaluate_bin`` / ``save_bin``. Fold ``f`` of a 10-fold list is pairs
    ``[f*600, (f+1)*600)``, the contiguous split the 10-fold protocol uses."""
    plist = pairs if isinstance(pairs, PairList) else read_pairs(pairs, images_root)
    cache: dict[Path, bytes] = {}
    images: list[bytes] = []
    for p in plist.pairs:
        for path in (p.path1, p.path2):
            if path not in cache:
                cache[path] = _as_evaluable_bytes(path, size)
            images.append(cache[path])
    return VerificationBin(images, [p.issame for p in plist.pairs])


def load_verification_set(path: str | Path, images_root: str | Path | None = None) -> VerificationBin:
    """A verification set given by path: an insightface ``.bin``, or a pair list over an image folder
    (``images_root``, default ``./images`` next to it), as a :class:`VerificationBin`."""
    from clusterface.data.bin_set import load_bin

    path = Path(path)
    if path.suffix.lower() == ".bin":
        return load_bin(path)
    return pairs_to_bin(path, images_root)
