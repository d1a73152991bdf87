"""Hostile containers (docs/reliability.md): fuzzed RecordIO / .bin files, malicious pickles, lying headers.

Every case must end in the project's own error naming the file, with nothing allocated from a
declared size and no code run. The long fuzz run is benchmarks/fuzz_containers.py.
"""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import struct
import sys
import tracemalloc
from pathlib import Path

import pytest

from clusterface.data.bin_set import BinFormatError, load_bin, loads_bin, save_bin
from clusterface.data.recordio import IndexedRecordIO, RecordIOError, RecordIOWriter, pack_record, read_index
from clusterface.data.recordio_dataset import MAX_EXACT_LABEL, RecordIODataset

_FUZZ = Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz_containers.py"


def _fuzz_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("fuzz_containers", _FUZZ)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_containers"] = module
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------- fuzzing


@pytest.mark.parametrize("kind", ["rec", "bin"])
def test_fuzzed_containers_end_in_project_errors_naming_the_file(kind: str, tmp_path: Path) -> None:
    fuzz = _fuzz_module()
    result = fuzz.fuzz(kind, range(300), tmp_path)
    assert result.failures == []
    assert result.inputs == 300
    # the mutations reach many distinct checks, and some inputs stay readable (a flipped bit in pixel data)
    assert result.distinct_errors >= 20
    assert 0 < result.ok < result.inputs


def test_fuzz_seeds_are_valid_before_mutation(tmp_path: Path) -> None:
    fuzz = _fuzz_module()
    rec, idx = fuzz.seed_recordio()
    (tmp_path / "f.rec").write_bytes(rec)
    (tmp_path / "f.idx").write_bytes(idx)
    fuzz.exercise_recordio(tmp_path / "f.rec", tmp_path / "f.idx")
    reader = IndexedRecordIO(tmp_path / "f.rec")
    # the seed really has split records (continuation chunks)
    assert any(struct.unpack_from("<I", rec, int(o) + 4)[0] >> 29 == 1 for o in reader.offsets)
    for data in fuzz.seed_bins():
        assert len(loads_bin(data)) == 2


# --------------------------------------------------------------------------- RecordIO specifics


def test_idx_numbers_beyond_64_bits_are_refused_not_saturated(tmp_path: Path) -> None:
    # before: the fast parser saturated 2**64 to 2**63-1 silently, the line parser raised OverflowError
    for line in (f"{2**64}\t0\n", f"0\t{2**64}\n", f"1\t{10**30}\n"):
        (tmp_path / "a.idx").write_text("0\t0\n" + line)
        with pytest.raises(RecordIOError, match=r"a\.idx: line 2: .*beyond 64 bits"):
            read_index(tmp_path / "a.idx")


def _rec(path: Path, header: list[float] | None, labels: list[float], identities: list[list[int]] = ()) -> Path:
    with RecordIOWriter(path) as w:
        if header is not None:
            w.write(0, pack_record(header, b""))
        for i, label in enumerate(labels, start=1):
            w.write(i, pack_record(label, b"\xff\xd8\xff"))
        for j, bounds in enumerate(identities):
            w.write(len(labels) + 1 + j, pack_record(bounds, b""))
    return path


@pytest.mark.parametrize("header", [[2.0**31, 2.0**31 + 8], [3.0, 2.0**31], [1e30, 1e30]])
def test_lying_header_is_refused_before_allocating_from_it(tmp_path: Path, header: list[float]) -> None:
    # before: np.arange(1, 2**31) asked for 16 GiB (MemoryError) or 1e30 raised a bare ValueError
    path = _rec(tmp_path / "a.rec", header, [0.0, 1.0])
    tracemalloc.start()
    try:
        with pytest.raises(RecordIOError, match=r"a\.rec: record 0 .*corrupt header"):
            RecordIODataset(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_label_at_or_above_the_header_identity_count_is_refused(tmp_path: Path) -> None:
    path = _rec(tmp_path / "a.rec", [4.0, 6.0], [0.0, 1.0, 5.0], [[1, 3], [3, 4]])
    with pytest.raises(RecordIOError, match=r"a\.rec: record 3 has label 5 but the header .* 2 identities"):
        RecordIODataset(path)


def test_labels_beyond_float32_precision_are_refused(tmp_path: Path) -> None:
    # before: label 1e9 without a header made a 1e9-class dataset (a head of 1e9 rows), 1e30 wrapped around
    for label in (1e9, 1e30, float(MAX_EXACT_LABEL) * 2):
        path = _rec(tmp_path / "a.rec", None, [0.0, label])
        with pytest.raises(RecordIOError, match=r"a\.rec: record 2 has label .* must be integers in \[0, 16777216\]"):
            RecordIODataset(path)


def test_label_gaps_keep_the_largest_label_as_class_count(tmp_path: Path) -> None:
    path = _rec(tmp_path / "a.rec", None, [0.0, 5.0, 2.0])
    ds = RecordIODataset(path)
    assert ds.num_classes == 6
    assert sorted(ds.labels.tolist()) == [0, 2, 5]


# ---------------------------------------------------------------------------- malicious pickles


class _Call:
    """Pickles as ``func(*args)``: what a malicious .bin does with __reduce__."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.func, self.args


def _marker_command(marker: Path) -> str:
    return f"touch {marker}"


def _malicious(marker: Path) -> dict[str, bytes]:
    import builtins
    import subprocess

    cmd = _marker_command(marker)
    payloads = {
        "os.system": pickle.dumps(([_Call(os.system, cmd)], []), protocol=2),
        "builtins.exec": pickle.dumps(_Call(builtins.exec, f"open({str(marker)!r}, 'w')"), protocol=4),
        "subprocess": pickle.dumps(_Call(subprocess.call, ["touch", str(marker)]), protocol=0),
        # a __reduce__ chain: the result of one call is the argument of the next
        "reduce chain": pickle.dumps(_Call(os.system, _Call(str, cmd)), protocol=4),
        # bytes / bytearray as a constructor of a huge buffer: allowed global, refused argument
        "bytes(size)": b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x40\x85R.",
        "bytearray(size)": b"\x80\x02c__builtin__\nbytearray\nJ\x00\x00\x00\x40\x85R.",
        # _codecs.encode with a codec other than latin-1
        "codec": b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x04\x00\x00\x00zlib\x86R.",
        # INST and OBJ opcodes build an object of a named class directly
        "INST": b"(S'" + cmd.encode() + b"'\nios\nsystem\n.",
        "OBJ": b"(cos\nsystem\nS'" + cmd.encode() + b"'\no.",
        "STACK_GLOBAL": b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R.",
        "NEWOBJ": b"\x80\x02cos\nsystem\n)\x81.",
        "BUILD": b"\x80\x02]}b.",
        "persistent id": b"\x80\x02X\x01\x00\x00\x00aQ.",
        "extension": b"\x80\x02\x82\x01.",
        # memo tricks: a 4-billion memo index (the C unpickler sizes its table by it), a GET of a
        # slot never stored, a list that contains itself
        "memo index": b"\x80\x02]r\xf0\xff\xff\xff.",
        "memo get": b"\x80\x02j\xff\xff\xff\x7f.",
        "self-reference": b"\x80\x02]q\x00h\x00ah\x00]\x86.",
        # declared lengths far past the end of the file
        "BINBYTES8": b"\x80\x04\x8e" + struct.pack("<Q", 1 << 40) + b"ab.",
        "FRAME": b"\x80\x04\x95" + struct.pack("<Q", 1 << 40) + b"].",
    }
    depth = 100_000
    payloads["deep nesting"] = b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"]\x86."
    return payloads


@pytest.mark.parametrize("case", list(_malicious(Path("/x"))))
def test_malicious_pickle_is_refused_before_any_call(tmp_path: Path, case: str) -> None:
    marker = tmp_path / "pwned"
    data = _malicious(marker)[case]
    path = tmp_path / "evil.bin"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        with pytest.raises(BinFormatError, match=r"evil\.bin: ") as info:
            load_bin(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not marker.exists()
    assert peak < 64 << 20  # nothing allocated from a declared size (the deep list is ~10 MB)
    assert _EXPECTED.get(case, "refusing") in str(info.value)


_EXPECTED = {
    "memo index": "memo index 4294967280 at byte 3 is larger than the file",
    "memo get": "memo index 2147483647 at byte 2 was never stored",
    "self-reference": "1 images for 0 pairs",
    "BINBYTES8": "expected 1099511627776 bytes",
    "FRAME": "frame at byte 2 declares 1099511627776 bytes; the file has 13",
    "deep nesting": "1 images for 0 pairs",
}


def test_the_named_call_is_in_the_message(tmp_path: Path) -> None:
    data = _malicious(tmp_path / "m")["os.system"]
    with pytest.raises(BinFormatError, match=r"x\.bin: .*refusing global (posix|os)\.system at byte \d+"):
        loads_bin(data, "x.bin")


def test_python2_style_and_protocol0_bins_still_load(tmp_path: Path) -> None:
    images = [b"", b"ab\x00\xff", bytearray(b"cd")]
    for protocol in (0, 2, 4, 5):
        data = pickle.dumps(([*images, b"e"], [True, False]), protocol=protocol)
        loaded = loads_bin(data)
        assert loaded.images == [b"", b"ab\x00\xff", b"cd", b"e"]
        assert loaded.issame == [True, False]
    # Python 2's pickle of str images (SHORT_BINSTRING) with integer issame
    py2 = b"\x80\x02]q\x00(U\x02abq\x01U\x02cdq\x02e]q\x03K\x01a\x86q\x04."
    assert loads_bin(py2).images == [b"ab", b"cd"]
    save_bin(tmp_path / "ok.bin", [b"a", b"b"], [True])
    assert load_bin(tmp_path / "ok.bin").issame == [True]


def test_issame_length_mismatch_names_the_counts(tmp_path: Path) -> None:
    data = pickle.dumps(([b"a", b"b", b"c"], [True]), protocol=4)
    with pytest.raises(BinFormatError, match=r"odd\.bin: 3 images for 1 pairs"):
        loads_bin(data, "odd.bin")
    data = pickle.dumps(([b"a", b"b"], [True, False]), protocol=4)
    with pytest.raises(BinFormatError, match=r"2 images for 2 pairs"):
        loads_bin(io.BytesIO(data).getvalue(), "short.bin")


def test_identity_record_with_a_huge_range_falls_back_to_image_labels(tmp_path: Path) -> None:
    # found by the long fuzz run: an identity record (1, 1e30) raised OverflowError building the ranges
    path = _rec(tmp_path / "a.rec", [3.0, 5.0], [0.0, 1.0], [[1.0, 1e30], [2.0, 3.0]])
    ds = RecordIODataset(path)
    assert ds.layout.identity_ranges is None
    assert ds.labels.tolist() == [0, 1]
