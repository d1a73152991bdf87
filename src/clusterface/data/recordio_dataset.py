"""Faces from an insightface / im2rec RecordIO file (``train.rec`` + ``train.idx``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from clusterface.data.decode import IMAGE_SIZE, decode_face
from clusterface.data.face_dataset import BadFilePolicy, FaceDataset
from clusterface.data.image_folder import load_label_map
from clusterface.data.recordio import IndexedRecordIO, RecordIOError, unpack_record

#: Largest label accepted: labels are stored as float32, which holds every integer up to 2^24 exactly.
MAX_EXACT_LABEL = 2**24


def label_map_path_for(rec_path: str | Path) -> Path:
    """Where ``data convert`` keeps a ``.rec``'s identity names: ``train.rec`` -> ``train.label_map.json``."""
    return Path(rec_path).with_suffix(".label_map.json")


@dataclass(frozen=True)
class RecordLayout:
    """Which records are images, and what the insightface header says (when there is one)."""

    image_keys: np.ndarray  # int64 keys of image records, in item order
    has_header: bool  # record 0 is insightface's (first_identity_record, end) header
    identity_ranges: np.ndarray | None  # (C, 2) [start, stop) image keys per identity, when present
    header_identities: int = 0  # C as the header says (end - first_identity_record), 0 without header


def _integral_pair(label: object) -> tuple[int, int] | None:
    if not isinstance(label, np.ndarray) or label.size < 2:
        return None
    a, b = float(label[0]), float(label[1])
    if not (a.is_integer() and b.is_integer()):
        return None
    return int(a), int(b)


def detect_layout(reader: IndexedRecordIO) -> RecordLayout:
    """insightface layout (header at key 0) or a plain list of image records (im2rec, shuffled)."""
    all_keys = reader.keys
    if 0 in reader:
        header, image = reader.read_header(0)
        bounds = _integral_pair(header.label) if header.flag >= 2 and not image else None
        if bounds is not None and 1 <= bounds[0] <= bounds[1]:
            first_identity, end = bounds
            if end - first_identity > len(all_keys) or first_identity > MAX_EXACT_LABEL:
                # checked before anything is allocated from these numbers (a corrupt header would
                # otherwise ask for an array as long as the number it holds)
                raise RecordIOError(
                    f"{reader.rec_path}: record 0 (the insightface header) says images end at key {first_identity} "
                    f"and identities at key {end}, but {reader.idx_path} lists only {len(all_keys)} records: "
                    "a corrupt header; rebuild the pair with `clusterface data convert`"
                )
            if first_identity - 1 > len(all_keys):  # more images than records: only the keys that exist
                kept = np.sort(all_keys[(all_keys >= 1) & (all_keys < first_identity)])
                return RecordLayout(kept, True, None, end - first_identity)
            image_keys = np.arange(1, first_identity, dtype=np.int64)
            if np.isin(image_keys, all_keys).all():
                ranges = _identity_ranges(reader, first_identity, end, image_keys)
                return RecordLayout(image_keys, True, ranges, end - first_identity)
            # an .idx with holes (records removed after packing): the images that are there; the
            # identity ranges no longer describe them, so labels come from the image headers
            kept = np.sort(all_keys[(all_keys >= 1) & (all_keys < first_identity)])
            return RecordLayout(kept, True, None, end - first_identity)
    order = np.argsort(reader.offsets, kind="stable")  # file order: sequential reads stay sequential
    return RecordLayout(all_keys[order], False, None)


def _identity_ranges(reader: IndexedRecordIO, first: int, end: int, image_keys: np.ndarray) -> np.ndarray | None:
    """(start, stop) of each identity record, when they exist and tile the image keys exactly."""
    if end <= first or not all(k in reader for k in range(first, end)):
        return None
    ranges = []
    for key in range(first, end):
        header, _ = reader.read_header(key)
        pair = _integral_pair(header.label)
        if pair is None or not 0 <= pair[0] <= pair[1] <= MAX_EXACT_LABEL * 16:  # float32 keys past 2^28: corrupt
            return None
        ranges.append(pair)
    arr = np.asarray(ranges, dtype=np.int64)
    if len(image_keys) == 0 or arr[0, 0] != image_keys[0] or arr[-1, 1] != image_keys[-1] + 1:
        return None
    if np.any(arr[1:, 0] != arr[:-1, 1]) or np.any(arr[:, 1] < arr[:, 0]):
        return None
    return arr


def _labels_from_headers(reader: IndexedRecordIO, keys: np.ndarray) -> np.ndarray:
    values = reader.scalar_labels(keys)
    bad = np.flatnonzero(
        ~np.isfinite(values) | (values < 0) | (values != np.round(values)) | (values > MAX_EXACT_LABEL)
    )
    if bad.size:
        i = int(bad[0])
        raise RecordIOError(
            f"{reader.rec_path}: record {int(keys[i])} has label {float(values[i])}; labels must be integers in "
            f"[0, {MAX_EXACT_LABEL}] (float32 holds no larger integer exactly) ({bad.size} such records)"
        )
    return values.astype(np.int64)


def read_record_labels(reader: IndexedRecordIO, layout: RecordLayout) -> np.ndarray:
    """Per-image int64 labels: from the identity records when they agree with the image headers
    (no need to touch millions of records), otherwise from every image header."""
    if layout.identity_ranges is not None:
        sizes = layout.identity_ranges[:, 1] - layout.identity_ranges[:, 0]
        labels = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
        probe_ids = np.unique(np.linspace(0, len(sizes) - 1, num=min(16, len(sizes))).astype(np.int64))
        probe_ids = probe_ids[sizes[probe_ids] > 0]
        probe_keys = layout.identity_ranges[probe_ids, 0]
        if np.array_equal(_labels_from_headers(reader, probe_keys), probe_ids):
            return labels
    return _labels_from_headers(reader, layout.image_keys)


class RecordIODataset(FaceDataset):
    """Faces from a RecordIO file: items ``(uint8 (3, 112, 112) RGB, label)``.

    Reads insightface's layout (header record 0, label arrays -> first label) and header-less
    im2rec files (any key order). The ``.rec`` is memory-mapped once per process, so the dataset
    is safe to use with DataLoader workers. ``label_map`` holds the identity names of
    ``train.label_map.json`` when ``data convert`` wrote one, else None. ``rec_path`` may also be
    the ``.idx``, or a directory holding ``train.rec`` (insightface's dataset folders).
    """

    def __init__(
        self,
        rec_path: str | Path,
        idx_path: str | Path | None = None,
        bad_file_policy: BadFilePolicy = "skip",
        max_bad_fraction: float = 0.01,
        image_size: int = IMAGE_SIZE,
    ) -> None:
        super().__init__(bad_file_policy, max_bad_fraction, image_size)
        self.rec_path = Path(rec_path)
        if self.rec_path.is_dir():  # an insightface dataset directory (faces_emore/, ms1m-retinaface-t1/)
            self.rec_path = self.rec_path / "train.rec"
        if self.rec_path.suffix.lower() == ".idx":  # given the index: the .rec sits next to it
            idx_path = self.rec_path if idx_path is None else idx_path
            self.rec_path = self.rec_path.with_suffix(".rec")
        self.reader = IndexedRecordIO(self.rec_path, idx_path)
        self.layout = detect_layout(self.reader)
        self.keys = self.layout.image_keys
        if len(self.keys) == 0:
            raise RecordIOError(f"{self.rec_path}: no image records")
        self.labels = read_record_labels(self.reader, self.layout)
        top = int(self.labels.max())
        if self.layout.has_header and self.layout.header_identities and top >= self.layout.header_identities:
            key = int(self.keys[int(np.argmax(self.labels))])
            raise RecordIOError(
                f"{self.rec_path}: record {key} has label {top} but the header (record 0) declares "
                f"{self.layout.header_identities} identities: labels must be below the identity count; "
                "rebuild the pair with `clusterface data convert`"
            )
        classes = max(top + 1, self.layout.header_identities)
        self.label_map: dict[str, int] | None = None
        map_path = label_map_path_for(self.rec_path)
        if map_path.is_file():
            self.label_map = load_label_map(map_path)
            classes = max(classes, max(self.label_map.values(), default=-1) + 1)
        self.num_classes = classes

    def describe(self, index: int) -> str:
        return f"{self.rec_path}: record {int(self.keys[index])}"

    def _read(self, index: int) -> tuple[torch.Tensor, int]:
        key = int(self.keys[index])
        name = f"{self.rec_path}: record {key}"
        _, image = unpack_record(self.reader.read(key), name)
        return decode_face(image, name, self.image_size), int(self.labels[index])

    def encoded(self, index: int) -> bytes:
        """The encoded image bytes of sample ``index`` (for conversion, without decoding)."""
        key = int(self.keys[index])
        return unpack_record(self.reader.read(key), f"{self.rec_path}: record {key}")[1]
