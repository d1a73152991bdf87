"""RecordIO format: framing, magic splitting, headers, index, errors, layouts."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from data_helpers import encode, face_array

from clusterface.data import (
    IndexedRecordIO,
    RecordIODataset,
    RecordIOError,
    RecordIOWriter,
    pack_record,
    read_index,
    unpack_record,
)
from clusterface.data.recordio import MAGIC, encode_record, scan_offsets

MAGIC_BYTES = struct.pack("<I", MAGIC)


def reference_encode(payload: bytes) -> bytes:
    """dmlc-core RecordIOWriter::WriteRecord, transcribed loop by loop."""
    out = b""
    n = len(payload)
    lower_align = (n >> 2) << 2
    upper_align = ((n + 3) >> 2) << 2
    dptr = 0
    for i in range(0, lower_align, 4):
        if payload[i : i + 4] == MAGIC_BYTES:
            lrec = ((1 if dptr == 0 else 2) << 29) | (i - dptr)
            out += MAGIC_BYTES + struct.pack("<I", lrec) + payload[dptr:i]
            dptr = i + 4
    lrec = ((3 if dptr != 0 else 0) << 29) | (n - dptr)
    out += MAGIC_BYTES + struct.pack("<I", lrec) + payload[dptr:]
    out += b"\0" * (upper_align - n)
    return out


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"abc",
        b"abcd",
        MAGIC_BYTES,
        b"abcd" + MAGIC_BYTES + b"xyz",
        MAGIC_BYTES + b"abcd" + MAGIC_BYTES + MAGIC_BYTES + b"q",
        b"a" + MAGIC_BYTES + b"bcd",  # unaligned magic: not split
        b"abcd" + MAGIC_BYTES,  # magic at the very end
    ],
)
def test_encode_matches_dmlc(payload):
    assert encode_record(payload) == reference_encode(payload)


def test_known_bytes_of_a_small_record():
    assert encode_record(b"hello") == bytes.fromhex("0a23d7ce") + struct.pack("<I", 5) + b"hello\0\0\0"


def test_pack_unpack_scalar_and_array():
    p = pack_record(7, b"IMG", id=3, id2=4)
    assert p[:24] == struct.pack("<IfQQ", 0, 7.0, 3, 4)
    h, img = unpack_record(p)
    assert (h.flag, h.label, h.id, h.id2, img) == (0, 7.0, 3, 4, b"IMG")
    p = pack_record([5, 2.5, 9], b"IMG")
    h, img = unpack_record(p)
    assert h.flag == 3 and img == b"IMG"
    np.testing.assert_array_equal(h.label, np.array([5, 2.5, 9], np.float32))
    assert h.first_label == 5.0
    with pytest.raises(RecordIOError, match="header says 3 labels"):
        unpack_record(p[:30], "x.rec: record 1")


def write_records(tmp_path, payloads, keys=None):
    rec = tmp_path / "t.rec"
    keys = list(range(len(payloads))) if keys is None else keys
    with RecordIOWriter(rec) as w:
        for k, p in zip(keys, payloads, strict=True):
            w.write(k, p)
    return rec


def test_round_trip_with_magic_inside_payload(tmp_path):
    payloads = [
        b"plain",
        b"abcd" + MAGIC_BYTES + b"efgh" + MAGIC_BYTES + b"ij",
        MAGIC_BYTES * 3,
        b"x" * 1001,
    ]
    rec = write_records(tmp_path, payloads)
    raw = rec.read_bytes()
    # the split record really is stored in several chunks (magic removed from the payload)
    assert raw.count(MAGIC_BYTES) == 1 + 3 + 4 + 1
    r = IndexedRecordIO(rec)
    assert [r.read(k) for k in range(4)] == payloads
    assert [p for _, p in r] == payloads
    np.testing.assert_array_equal(scan_offsets(rec), r.offsets)


def test_magic_inside_an_image_record_decodes(tmp_path):
    img = encode(face_array(1))
    # put the magic at an aligned position inside the JPEG's comment-free payload tail
    payload = pack_record(2, img)
    cut = (len(payload) // 2) & ~3
    payload = payload[:cut] + MAGIC_BYTES + payload[cut + 4 :]
    rec = write_records(tmp_path, [payload])
    assert IndexedRecordIO(rec).read(0) == payload


def test_writer_is_atomic_and_abort_leaves_nothing(tmp_path):
    rec = tmp_path / "a.rec"
    w = RecordIOWriter(rec)
    w.write(0, b"abc")
    assert not rec.exists() and not rec.with_suffix(".idx").exists()
    assert (tmp_path / "a.rec.tmp").exists()
    w.close()
    assert rec.exists() and rec.with_suffix(".idx").exists()
    assert not (tmp_path / "a.rec.tmp").exists()
    with pytest.raises(RuntimeError), RecordIOWriter(tmp_path / "b.rec") as w2:
        w2.write(0, b"abc")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.idx", "a.rec"]


def test_idx_format(tmp_path):
    rec = write_records(tmp_path, [b"a", b"bbbbb", b""], keys=[5, 9, 2])
    assert rec.with_suffix(".idx").read_text() == "5\t0\n9\t12\n2\t28\n"
    keys, offsets = read_index(rec.with_suffix(".idx"))
    assert keys.tolist() == [5, 9, 2] and offsets.tolist() == [0, 12, 28]


def test_truncated_rec_names_the_file(tmp_path):
    rec = write_records(tmp_path, [b"a" * 40, b"b" * 40])
    rec.write_bytes(rec.read_bytes()[:-10])
    r = IndexedRecordIO(rec)
    assert r.read(0) == b"a" * 40
    with pytest.raises(RecordIOError, match=r"t\.rec: record 1 .*truncated"):
        r.read(1)
    with pytest.raises(RecordIOError, match="truncated"):
        scan_offsets(rec)


def test_idx_past_end_names_the_idx(tmp_path):
    rec = write_records(tmp_path, [b"a" * 40])
    rec.with_suffix(".idx").write_text("0\t0\n1\t4000\n")
    with pytest.raises(RecordIOError, match=r"t\.idx: key 1 points at offset 4000, past the end of .*t\.rec"):
        IndexedRecordIO(rec)


def test_bad_magic_names_the_file(tmp_path):
    rec = tmp_path / "t.rec"
    rec.write_bytes(b"\x00" * 64)
    rec.with_suffix(".idx").write_text("0\t0\n")
    with pytest.raises(RecordIOError, match=r"t\.rec: bad magic 0x00000000 at offset 0 \(record 0\)"):
        IndexedRecordIO(rec).read(0)
    # an .idx offset into the middle of a record
    rec2 = write_records(tmp_path, [b"a" * 40])
    rec2.with_suffix(".idx").write_text("0\t8\n")
    with pytest.raises(RecordIOError, match="bad magic"):
        IndexedRecordIO(rec2).read(0)


def test_malformed_idx_and_missing_files(tmp_path):
    rec = write_records(tmp_path, [b"a"])
    rec.with_suffix(".idx").write_text("0\t0\nnonsense\n")
    with pytest.raises(RecordIOError, match=r"t\.idx: line 2"):
        IndexedRecordIO(rec)
    with pytest.raises(RecordIOError, match="no such .rec"):
        IndexedRecordIO(tmp_path / "missing.rec")
    rec.with_suffix(".idx").unlink()
    with pytest.raises(RecordIOError, match=r"t\.idx: no such \.idx"):
        IndexedRecordIO(rec)


def write_insightface(tmp_path, sizes, label_arrays=False, magic_in=()):
    """insightface layout: header at 0, images 1..N, identity records N+1..N+C."""
    rec = tmp_path / "train.rec"
    n = sum(sizes)
    expected = []
    with RecordIOWriter(rec) as w:
        w.write(0, pack_record([n + 1, n + 1 + len(sizes)], b""))
        key = 1
        for label, size in enumerate(sizes):
            for _ in range(size):
                arr = face_array(key)
                img = encode(arr)
                lab = [label, 0.5, 123] if label_arrays else label
                payload = pack_record(lab, img, id=key)
                if key in magic_in:
                    # JPEG decoders ignore bytes after EOI: append an aligned magic word there
                    payload += b"\0" * (-len(payload) % 4) + MAGIC_BYTES + b"tail"
                w.write(key, payload)
                expected.append((arr, label))
                key += 1
        start = 1
        for label, size in enumerate(sizes):
            w.write(n + 1 + label, pack_record([start, start + size], b""))
            start += size
    return rec, expected


@pytest.mark.parametrize("label_arrays", [False, True])
def test_insightface_layout(tmp_path, label_arrays):
    rec, expected = write_insightface(tmp_path, [2, 3, 1], label_arrays=label_arrays, magic_in=(2,))
    ds = RecordIODataset(rec, bad_file_policy="raise")
    assert ds.layout.has_header and ds.layout.identity_ranges is not None
    assert len(ds) == 6 and ds.num_classes == 3
    assert ds.labels.tolist() == [0, 0, 1, 1, 1, 2]
    for i, (arr, label) in enumerate(expected):
        img, lab = ds[i]
        assert img.dtype == torch.uint8 and img.shape == (3, 112, 112)
        assert lab == label
        assert np.abs(img.permute(1, 2, 0).numpy().astype(int) - arr).mean() < 3


def test_labels_from_headers_when_identity_records_disagree(tmp_path):
    rec, _ = write_insightface(tmp_path, [2, 2])
    # rewrite the identity ranges so they no longer tile the image keys
    with RecordIOWriter(tmp_path / "x.rec") as w:
        r = IndexedRecordIO(rec)
        for k in r.keys:
            payload = r.read(int(k))
            if k == 5:
                payload = pack_record([1, 2], b"")
            w.write(int(k), payload)
    ds = RecordIODataset(tmp_path / "x.rec")
    assert ds.layout.identity_ranges is None
    assert ds.labels.tolist() == [0, 0, 1, 1]


def test_headerless_shuffled_file(tmp_path):
    rng = np.random.default_rng(0)
    keys = rng.permutation(12).tolist()
    rec = tmp_path / "shuf.rec"
    expected = {}
    with RecordIOWriter(rec) as w:
        for k in keys:
            label = k % 4
            arr = face_array(k)
            # im2rec multi-label records: flag > 0, first label is the class
            lab = [label, 7.0] if k % 2 else label
            w.write(k, pack_record(lab, encode(arr), id=k))
            expected[k] = (arr, label)
    ds = RecordIODataset(rec, bad_file_policy="raise")
    assert not ds.layout.has_header
    assert ds.keys.tolist() == keys  # file order
    assert ds.labels.tolist() == [k % 4 for k in keys]
    assert ds.num_classes == 4
    for i, k in enumerate(keys):
        img, lab = ds[i]
        assert lab == expected[k][1]
        assert np.abs(img.permute(1, 2, 0).numpy().astype(int) - expected[k][0]).mean() < 3


def test_non_integer_label_is_an_error(tmp_path):
    rec = write_records(tmp_path, [pack_record(1.5, encode(face_array(0)))])
    with pytest.raises(RecordIOError, match=r"t\.rec: record 0 has label 1\.5"):
        RecordIODataset(rec)


def test_reader_pickles_without_its_map(tmp_path):
    import pickle

    rec = write_records(tmp_path, [b"abc"])
    r = IndexedRecordIO(rec)
    assert r.read(0) == b"abc"
    r2 = pickle.loads(pickle.dumps(r))
    assert r2._map is None and r2._pid is None and r2.read(0) == b"abc"


def test_pread_fallback_without_mmap(tmp_path, monkeypatch):
    import mmap

    rec, expected = write_insightface(tmp_path, [2, 1], magic_in=(1,))

    def no_mmap(*args, **kwargs):
        raise OSError("mmap not supported here")

    monkeypatch.setattr(mmap, "mmap", no_mmap)
    ds = RecordIODataset(rec, bad_file_policy="raise")
    assert ds.reader.buffer() is None
    assert ds.labels.tolist() == [0, 0, 1]
    assert np.abs(ds[0][0].permute(1, 2, 0).numpy().astype(int) - expected[0][0]).mean() < 3


def test_fast_index_parser_matches_line_parser(tmp_path):
    from clusterface.data.recordio import _parse_index_fast, _parse_index_lines

    rng = np.random.default_rng(0)
    keys = rng.permutation(500) * 7 + 3
    offsets = np.cumsum(rng.integers(4, 10**6, 500)) * 4
    text = "".join(f"{k}\t{o}\n" for k, o in zip(keys, offsets, strict=True))
    for variant in (text, text.rstrip("\n")):  # MXNet's exact format: the fast parser
        fast = _parse_index_fast(variant.encode())
        assert fast is not None
        np.testing.assert_array_equal(fast[0], keys)
        np.testing.assert_array_equal(fast[1], offsets)
    for variant in (text.replace("\n", "\r\n"), "\n" + text.replace("\t", " ") + "\n\n"):
        assert _parse_index_fast(variant.encode()) is None  # other spellings: the line parser
        slow = _parse_index_lines(variant, tmp_path / "x.idx")
        np.testing.assert_array_equal(slow[0], keys)
        np.testing.assert_array_equal(slow[1], offsets)
        (tmp_path / "x.idx").write_text(variant)
        np.testing.assert_array_equal(read_index(tmp_path / "x.idx")[1], offsets)
    for odd in ("1\t2\t3\n", "1\n2\n", "1 2 3 4\n", "-1\t5\n", "a\tb\n", "1\t\n", "\t1\n", "1\t2x\n"):
        assert _parse_index_fast(odd.encode()) is None


def test_sparse_keys_lookup(tmp_path):
    keys = [10**12, 5, 77]
    rec = write_records(tmp_path, [b"a", b"b", b"c"], keys=keys)
    r = IndexedRecordIO(rec)
    assert r._lookup.dense is None
    assert [r.read(k) for k in keys] == [b"a", b"b", b"c"]
    assert 6 not in r and 77 in r
    assert r.positions(np.array([77, 6, 10**12])).tolist() == [2, -1, 0]
    with pytest.raises(RecordIOError, match="no record with key 6"):
        r.read(6)


def test_record_split_inside_its_header(tmp_path):
    # id == magic puts the magic word at payload offset 8: the record is split inside its header,
    # so labels must come from the joined payload, not from the first chunk
    rec = tmp_path / "split.rec"
    with RecordIOWriter(rec) as w:
        w.write(0, pack_record(3, encode(face_array(0)), id=MAGIC))
        w.write(1, pack_record([1, 9.0], encode(face_array(1)), id=MAGIC))
        w.write(2, pack_record(2, encode(face_array(2))))
    ds = RecordIODataset(rec.with_suffix(".idx"), bad_file_policy="raise")  # the .idx path works too
    assert ds.rec_path == rec
    assert ds.labels.tolist() == [3, 1, 2]
    assert ds.reader.read_header(0)[0].id == MAGIC
    assert ds[0][0].shape == (3, 112, 112)


def test_insightface_index_with_holes(tmp_path):
    rec, _ = write_insightface(tmp_path, [2, 3])
    idx = rec.with_suffix(".idx")
    lines = [ln for ln in idx.read_text().splitlines() if not ln.startswith("3\t")]  # drop image 3
    idx.write_text("\n".join(lines) + "\n")
    ds = RecordIODataset(rec)
    assert ds.layout.has_header and ds.layout.identity_ranges is None
    assert ds.keys.tolist() == [1, 2, 4, 5] and ds.labels.tolist() == [0, 0, 1, 1]
    assert ds.num_classes == 2 and ds.layout.header_identities == 2


def test_truncated_rec_through_the_dataset(tmp_path):
    from clusterface.data import ImageDecodeError

    rec, _ = write_insightface(tmp_path, [2, 2])
    r = IndexedRecordIO(rec)
    end_of_image_4 = int(r.offsets[list(r.keys).index(4)]) + 40  # cut inside image record 4
    rec.write_bytes(rec.read_bytes()[:end_of_image_4])
    rec.with_suffix(".idx").write_text("".join(f"{k}\t{o}\n" for k, o in zip(r.keys, r.offsets, strict=True) if k <= 4))
    raw = RecordIODataset(rec, bad_file_policy="raise")
    assert raw.keys.tolist() == [1, 2, 3, 4]
    with pytest.raises((RecordIOError, ImageDecodeError), match=r"train\.rec: record 4"):
        raw[3]
    skip = RecordIODataset(rec, bad_file_policy="skip", max_bad_fraction=0.5)
    img, label = skip[3]
    assert label == 0 and torch.equal(img, skip[0][0])  # wrapped round to the first sample
    assert "truncated" in skip.bad_files[3]
