"""MXNet / dmlc RecordIO (``.rec`` + ``.idx``) in pure Python: no mxnet needed.

File layout (dmlc-core ``recordio.h``), all little-endian:

- a ``.rec`` is a sequence of chunks ``magic (u32 0xced7230a) | lrecord (u32) | data | 0-3 zero
  bytes padding to a multiple of 4``. ``lrecord`` holds the data length in its low 29 bits and a
  continuation flag ``cflag`` in its top 3 bits: 0 a whole record, 1 the first chunk of a split
  record, 2 a middle chunk, 3 the last chunk. The writer splits a record wherever its payload holds
  the magic word at a 4-byte-aligned position and drops those 4 bytes; the reader joins the chunks
  and re-inserts the magic between them.
- a ``.idx`` is text, one ``key\\toffset`` line per record (offset of the record's first chunk).
- a record's payload (``mx.recordio.pack``) is the header ``struct IfQQ`` = (flag, label, id, id2),
  then ``flag`` float32 labels when ``flag > 0`` (the scalar label is then 0), then the encoded image.

insightface's training sets (MS1MV2/3, Glint360K, WebFace) put a header at key 0 whose label is
``(first_identity_record, end)``: image records are keys ``1 .. first_identity_record - 1`` and
each identity record ``k`` in ``[first_identity_record, end)`` has an empty image and the label
``(start, stop)`` of its images. Files made by ``im2rec`` have no such header (often shuffled).
"""

from __future__ import annotations

import mmap
import os
import struct
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_LENGTH_MASK = (1 << 29) - 1
MAX_RECORD_BYTES = _LENGTH_MASK
HEADER_FORMAT = "<IfQQ"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)  # 24


class RecordIOError(ValueError):
    """A malformed ``.rec`` / ``.idx``; the message names the file and the record."""


@dataclass(frozen=True)
class RecordHeader:
    """``IRHeader``: ``flag`` = number of float labels (0: the scalar ``label`` is used)."""

    flag: int
    label: float | np.ndarray
    id: int
    id2: int

    @property
    def first_label(self) -> float:
        """The scalar label, or the first of a label array (what insightface trains on)."""
        if isinstance(self.label, np.ndarray):
            if self.label.size == 0:
                raise ValueError("empty label array")
            return float(self.label[0])
        return float(self.label)


def default_idx_path(rec_path: str | Path) -> Path:
    """``train.rec`` -> ``train.idx``."""
    return Path(rec_path).with_suffix(".idx")


# ---------------------------------------------------------------------------------------------
# payloads


def pack_record(label: float | Sequence[float] | np.ndarray, image: bytes, id: int = 0, id2: int = 0) -> bytes:
    """``mx.recordio.pack``: header (+ label array) + image bytes."""
    if isinstance(label, int | float | np.integer | np.floating):
        head = struct.pack(HEADER_FORMAT, 0, float(label), id, id2)
        return head + bytes(image)
    labels = np.asarray(label, dtype="<f4").ravel()
    head = struct.pack(HEADER_FORMAT, labels.size, 0.0, id, id2)
    return head + labels.tobytes() + bytes(image)


def unpack_record(payload: bytes | memoryview, name: str = "<record>") -> tuple[RecordHeader, bytes]:
    """``mx.recordio.unpack``: (header, image bytes). Errors name ``name``."""
    if len(payload) < HEADER_SIZE:
        raise RecordIOError(f"{name}: payload of {len(payload)} bytes is shorter than the {HEADER_SIZE}-byte header")
    flag, label, rid, rid2 = struct.unpack_from(HEADER_FORMAT, payload, 0)
    if flag == 0:
        return RecordHeader(0, float(label), rid, rid2), bytes(payload[HEADER_SIZE:])
    end = HEADER_SIZE + 4 * flag
    if len(payload) < end:
        raise RecordIOError(f"{name}: header says {flag} labels but the payload has only {len(payload)} bytes")
    labels = np.frombuffer(payload, dtype="<f4", count=flag, offset=HEADER_SIZE).astype(np.float32)
    return RecordHeader(flag, labels, rid, rid2), bytes(payload[end:])


def encode_record(payload: bytes | memoryview) -> bytes:
    """dmlc ``RecordIOWriter::WriteRecord``: split at aligned magic words, frame, pad to 4 bytes."""
    data = bytes(payload)
    n = len(data)
    if n > MAX_RECORD_BYTES:
        raise RecordIOError(f"record of {n} bytes exceeds RecordIO's limit of {MAX_RECORD_BYTES}")
    parts: list[bytes] = []
    start = 0
    pos = data.find(_MAGIC_BYTES)
    while pos != -1 and pos + 4 <= (n >> 2) << 2:
        if pos % 4 == 0:  # dmlc only looks at 4-byte-aligned positions
            parts.append(_MAGIC_BYTES + struct.pack("<I", ((1 if start == 0 else 2) << 29) | (pos - start)))
            parts.append(data[start:pos])
            start = pos + 4
            pos = data.find(_MAGIC_BYTES, start)
        else:
            pos = data.find(_MAGIC_BYTES, pos + 1)
    parts.append(_MAGIC_BYTES + struct.pack("<I", ((3 if start != 0 else 0) << 29) | (n - start)))
    parts.append(data[start:])
    parts.append(b"\0" * (-n % 4))
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------
# index


def _parse_index_fast(raw: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """Parse an ``.idx`` exactly as MXNet writes it (``%d\t%d\n`` lines) in C speed: ~1 s for
    MS1MV2's 5.8M lines. None when the file looks any different (then the line-by-line parser
    runs, which accepts spaces, CRLF and blank lines and reports a bad line by number)."""
    if not raw:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if not raw.endswith(b"\n"):
        raw += b"\n"
    if b" " in raw or b"\r" in raw or b"-" in raw or b"\n\n" in raw or raw.startswith(b"\n"):
        return None
    b = np.frombuffer(raw, dtype=np.uint8)
    tabs, newlines = np.flatnonzero(b == 9), np.flatnonzero(b == 10)
    if len(tabs) != len(newlines):
        return None
    line_starts = np.concatenate(([0], newlines[:-1] + 1))
    if np.any(tabs <= line_starts) or np.any(newlines <= tabs + 1):  # one tab per line, a number each side
        return None
    if np.any(tabs - line_starts > 18) or np.any(newlines - tabs - 1 > 18):  # numpy saturates past int64
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (and stops early) on anything that is not a number
        try:
            values = np.fromstring(raw.decode("ascii"), dtype=np.int64, sep=" ")
        except (ValueError, DeprecationWarning, UnicodeDecodeError):
            return None
    if values.size != 2 * len(newlines):
        return None
    return values[0::2].copy(), values[1::2].copy()


def _parse_index_lines(text: str, idx_path: Path) -> tuple[np.ndarray, np.ndarray]:
    keys: list[int] = []
    offsets: list[int] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            if len(fields) != 2:
                raise ValueError
            key, offset = int(fields[0]), int(fields[1])
        except ValueError as err:
            raise RecordIOError(f"{idx_path}: line {line_no} is {line!r}, expected 'key<TAB>offset'") from err
        if offset < 0:
            raise RecordIOError(f"{idx_path}: line {line_no}: negative offset {offset}")
        if not -(2**63) <= key < 2**63 or offset >= 2**63:
            raise RecordIOError(f"{idx_path}: line {line_no}: {line.strip()!r} holds a number beyond 64 bits")
        keys.append(key)
        offsets.append(offset)
    return np.asarray(keys, dtype=np.int64), np.asarray(offsets, dtype=np.int64)


def read_index(idx_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse a ``.idx`` file into (keys, offsets) int64 arrays in file order."""
    idx_path = Path(idx_path)
    try:
        raw = idx_path.read_bytes()
    except FileNotFoundError as err:
        raise RecordIOError(f"{idx_path}: no such .idx file") from err
    except OSError as err:
        raise RecordIOError(f"{idx_path}: cannot read the .idx ({err})") from err
    parsed = _parse_index_fast(raw)
    if parsed is None:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as err:
            raise RecordIOError(f"{idx_path}: not a text .idx file ({err})") from err
        parsed = _parse_index_lines(text, idx_path)
    key_arr, offset_arr = parsed
    if len(np.unique(key_arr)) != len(key_arr):
        raise RecordIOError(f"{idx_path}: duplicate keys in the index")
    return key_arr, offset_arr


def write_index(idx_path: str | Path, keys: Sequence[int] | np.ndarray, offsets: Sequence[int] | np.ndarray) -> None:
    """Write a ``.idx`` (``key\\toffset`` lines, as MXIndexedRecordIO does)."""
    with Path(idx_path).open("w", encoding="ascii") as f:
        f.writelines(f"{int(k)}\t{int(o)}\n" for k, o in zip(keys, offsets, strict=True))


def scan_offsets(rec_path: str | Path) -> np.ndarray:
    """Offsets of every record of a ``.rec``, by walking its chunks (to rebuild a lost ``.idx``)."""
    rec_path = Path(rec_path)
    offsets: list[int] = []
    with rec_path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        pos = 0
        in_record = False
        while pos < size:
            head = f.read(8)
            if len(head) < 8:
                raise RecordIOError(f"{rec_path}: truncated chunk header at offset {pos}")
            magic, lrec = struct.unpack("<II", head)
            if magic != MAGIC:
                raise RecordIOError(f"{rec_path}: bad magic 0x{magic:08x} at offset {pos}: not a RecordIO file")
            cflag, length = lrec >> 29, lrec & _LENGTH_MASK
            if not in_record:
                offsets.append(pos)
            in_record = cflag in (1, 2)
            pos += 8 + length + (-length % 4)
            if pos > size:
                raise RecordIOError(f"{rec_path}: record at offset {offsets[-1]} runs past the end: truncated .rec")
            f.seek(pos)
        if in_record:
            raise RecordIOError(f"{rec_path}: the last record is missing its final chunk: truncated .rec")
    return np.asarray(offsets, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# reader


class _KeyLookup:
    """Key -> position in the ``.idx``, as numpy arrays (a dict of millions of ints would be
    ~0.5 GB and get copied into every DataLoader worker as refcounts change)."""

    def __init__(self, keys: np.ndarray) -> None:
        n = len(keys)
        self.dense: np.ndarray | None = None
        if n and keys.min() >= 0 and keys.max() < 2 * n + 1024:  # the usual 0..N-1 (or 1..N)
            self.dense = np.full(int(keys.max()) + 1, -1, dtype=np.int64)
            self.dense[keys] = np.arange(n)
        self.order = np.argsort(keys, kind="stable")
        self.sorted_keys = keys[self.order]

    def position(self, key: int) -> int:
        if self.dense is not None:
            return int(self.dense[key]) if 0 <= key < len(self.dense) else -1
        i = int(np.searchsorted(self.sorted_keys, key))
        return int(self.order[i]) if i < len(self.sorted_keys) and self.sorted_keys[i] == key else -1

    def positions(self, keys: np.ndarray) -> np.ndarray:
        if self.dense is not None:
            inside = (keys >= 0) & (keys < len(self.dense))
            return np.where(inside, self.dense[np.clip(keys, 0, len(self.dense) - 1)], -1)
        i = np.clip(np.searchsorted(self.sorted_keys, keys), 0, max(len(self.sorted_keys) - 1, 0))
        if not len(self.sorted_keys):
            return np.full(len(keys), -1, dtype=np.int64)
        return np.where(self.sorted_keys[i] == keys, self.order[i], -1)


class IndexedRecordIO:
    """Random-access reader of a ``.rec`` through its ``.idx``, safe across processes.

    The ``.rec`` is memory-mapped lazily, once per process (keyed by ``os.getpid()``), so a
    reader created before a DataLoader forks its workers reopens the file in each worker and
    pickles without its handle for spawned workers.
    """

    def __init__(self, rec_path: str | Path, idx_path: str | Path | None = None) -> None:
        self.rec_path = Path(rec_path)
        self.idx_path = Path(idx_path) if idx_path is not None else default_idx_path(rec_path)
        if not self.rec_path.is_file():
            raise RecordIOError(f"{self.rec_path}: no such .rec file")
        self.keys, self.offsets = read_index(self.idx_path)
        self.size = self.rec_path.stat().st_size
        past = np.flatnonzero(self.offsets + 8 > self.size)
        if past.size:
            i = int(past[0])
            raise RecordIOError(
                f"{self.idx_path}: key {int(self.keys[i])} points at offset {int(self.offsets[i])}, past the end of "
                f"{self.rec_path} ({self.size} bytes): truncated .rec or an .idx for another file"
            )
        self._lookup = _KeyLookup(self.keys)
        self._pid: int | None = None
        self._file: BinaryIO | None = None
        self._map: mmap.mmap | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: int) -> bool:
        return self._lookup.position(int(key)) >= 0

    def positions(self, keys: np.ndarray) -> np.ndarray:
        """Positions in the ``.idx`` of many keys at once (-1 where a key is absent)."""
        return self._lookup.positions(np.asarray(keys, dtype=np.int64))

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state.update(_pid=None, _file=None, _map=None)
        return state

    def _open(self) -> None:
        """Open (and map) the ``.rec`` in this process: on first use, and again after a fork."""
        pid = os.getpid()
        if self._pid == pid:
            return
        # Never close a parent's handles from a child: drop the references and open anew.
        self._file = self.rec_path.open("rb")
        try:
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # empty file, or a filesystem without mmap: use pread
            self._map = None
        self._pid = pid

    def buffer(self) -> mmap.mmap | None:
        """This process's memory map of the ``.rec`` (None where it cannot be mapped)."""
        self._open()
        return self._map

    def _bytes(self, pos: int, n: int) -> bytes:
        self._open()
        if self._map is not None:
            return self._map[pos : pos + n]
        assert self._file is not None
        return os.pread(self._file.fileno(), n, pos)

    def close(self) -> None:
        """Release this process's map and file (reopened on the next read)."""
        if self._pid == os.getpid():
            if self._map is not None:
                try:
                    self._map.close()
                except BufferError:  # a numpy view is still alive; the GC releases it later
                    pass
            if self._file is not None:
                self._file.close()
        self._map, self._file, self._pid = None, None, None

    def read_at(self, offset: int, key: int | str = "?") -> bytes:
        """The payload of the record starting at ``offset`` (chunks joined, magic re-inserted)."""
        size = self.size
        pos = int(offset)
        parts: list[bytes] = []
        while True:
            if pos + 8 > size:
                raise RecordIOError(
                    f"{self.rec_path}: record {key} at offset {offset} runs past the end of the file "
                    f"({size} bytes): truncated .rec"
                )
            magic, lrec = struct.unpack("<II", self._bytes(pos, 8))
            if magic != MAGIC:
                raise RecordIOError(
                    f"{self.rec_path}: bad magic 0x{magic:08x} at offset {pos} (record {key}): "
                    "not a RecordIO file, or the .idx belongs to another file"
                )
            cflag, length = lrec >> 29, lrec & _LENGTH_MASK
            start = pos + 8
            if start + length > size:
                raise RecordIOError(
                    f"{self.rec_path}: record {key} at offset {offset} needs {length} bytes at offset {start} but "
                    f"the file has {size} bytes: truncated .rec"
                )
            expected = (0, 1) if not parts else (2, 3)
            if cflag not in expected:
                raise RecordIOError(
                    f"{self.rec_path}: record {key}: chunk at offset {pos} has continuation flag {cflag}, "
                    f"expected one of {expected}: the .idx offset is not the start of a record"
                )
            parts.append(self._bytes(start, length))
            if cflag in (0, 3):
                break
            parts.append(_MAGIC_BYTES)
            pos = start + length + (-length % 4)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read(self, key: int) -> bytes:
        """The payload of the record with this ``.idx`` key."""
        i = self._lookup.position(int(key))
        if i < 0:
            raise RecordIOError(f"{self.idx_path}: no record with key {key}")
        return self.read_at(int(self.offsets[i]), key)

    def read_header(self, key: int) -> tuple[RecordHeader, bytes]:
        """(header, image bytes) of a record."""
        return unpack_record(self.read(key), f"{self.rec_path}: record {key}")

    def scalar_labels(self, keys: np.ndarray) -> np.ndarray:
        """First label of each record in ``keys`` (float64), read without copying payloads.

        Whole, 4-byte-aligned records are read straight from the map with numpy; others (split
        records, unusual offsets) fall back to :meth:`read_header`.
        """
        positions = self.positions(keys)
        if np.any(positions < 0):
            raise RecordIOError(f"{self.idx_path}: no record with key {int(keys[np.argmin(positions)])}")
        offsets = self.offsets[positions]
        out = np.full(len(keys), np.nan)
        buf = self.buffer()
        slow = np.ones(len(keys), dtype=bool)
        if buf is not None and self.size >= 4 and len(keys):
            words = np.frombuffer(buf, dtype="<u4", count=self.size // 4)
            aligned = (offsets % 4 == 0) & (offsets + 36 <= self.size)
            w = offsets[aligned] // 4
            lrec = words[w + 1]
            flag = words[w + 2]
            length = lrec & _LENGTH_MASK
            whole = (words[w] == MAGIC) & ((lrec >> 29) == 0) & (length >= HEADER_SIZE + 4 * np.minimum(flag, 1))
            bits = np.where(flag == 0, words[w + 3], words[w + 8])
            values = bits.view("<f4").astype(np.float64)
            idx = np.flatnonzero(aligned)
            out[idx[whole]] = values[whole]
            slow[idx[whole]] = False
            del words, lrec, flag, bits
        for i in np.flatnonzero(slow):
            header, _ = self.read_header(int(keys[i]))
            try:
                out[i] = header.first_label
            except ValueError as err:
                raise RecordIOError(f"{self.rec_path}: record {int(keys[i])}: {err}") from err
        return out

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        for key, offset in zip(self.keys, self.offsets, strict=True):
            yield int(key), self.read_at(int(offset), int(key))


# ---------------------------------------------------------------------------------------------
# writer


class RecordIOWriter:
    """Write a ``.rec`` and its ``.idx`` atomically.

    Both are written under temporary names (``*.tmp``) and renamed only by :meth:`close`, ``.idx``
    first and ``.rec`` last, so an interrupted write never leaves a pair that looks complete.
    Used as a context manager, an exception deletes the temporary files instead.
    """

    def __init__(self, rec_path: str | Path, idx_path: str | Path | None = None) -> None:
        self.rec_path = Path(rec_path)
        self.idx_path = Path(idx_path) if idx_path is not None else default_idx_path(rec_path)
        self.rec_path.parent.mkdir(parents=True, exist_ok=True)
        self._rec_tmp = self.rec_path.with_name(self.rec_path.name + ".tmp")
        self._idx_tmp = self.idx_path.with_name(self.idx_path.name + ".tmp")
        self._rec = self._rec_tmp.open("wb")
        self._idx = self._idx_tmp.open("w", encoding="ascii")
        self._offset = 0
        self._keys: set[int] = set()
        self.closed = False

    def write(self, key: int, payload: bytes | memoryview) -> int:
        """Append one record under ``key``; returns its offset."""
        key = int(key)
        if key in self._keys:
            raise RecordIOError(f"{self.rec_path}: key {key} written twice")
        self._keys.add(key)
        chunk = encode_record(payload)
        offset = self._offset
        self._rec.write(chunk)
        self._idx.write(f"{key}\t{offset}\n")
        self._offset += len(chunk)
        return offset

    def write_image(
        self, key: int, image: bytes, label: float | Sequence[float] | np.ndarray, id: int | None = None, id2: int = 0
    ) -> int:
        """Pack (label, encoded image) like ``mx.recordio.pack`` and append it."""
        return self.write(key, pack_record(label, image, key if id is None else id, id2))

    def close(self) -> None:
        """Flush, fsync and rename both files into place."""
        if self.closed:
            return
        for f in (self._rec, self._idx):
            f.flush()
            os.fsync(f.fileno())
            f.close()
        os.replace(self._idx_tmp, self.idx_path)
        os.replace(self._rec_tmp, self.rec_path)
        self.closed = True

    def abort(self) -> None:
        """Close and delete the temporary files; nothing is renamed."""
        if self.closed:
            return
        self._rec.close()
        self._idx.close()
        for p in (self._rec_tmp, self._idx_tmp):
            p.unlink(missing_ok=True)
        self.closed = True

    def __enter__(self) -> RecordIOWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
