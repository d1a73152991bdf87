import pickle

import pytest

from clusterface.data import BinFormatError, load_bin, loads_bin, save_bin


def test_round_trip(tmp_path):
    images = [bytes([i]) * (i + 1) for i in range(6)]
    issame = [True, False, True]
    p = save_bin(tmp_path / "x.bin", images, issame)
    got = load_bin(p)
    assert got.images == images
    assert got.issame == issame
    assert len(got) == 3
    assert not (tmp_path / "x.bin.tmp").exists()


def test_reads_insightface_style_protocol2(tmp_path):
    # insightface's files are protocol-2 pickles; Python 3 writes bytes there via _codecs.encode
    p = tmp_path / "p2.bin"
    p.write_bytes(pickle.dumps(([b"\xff\xd8a", b"\xff\xd8b"], [True]), protocol=2))
    assert load_bin(p).images == [b"\xff\xd8a", b"\xff\xd8b"]


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_refuses_code(tmp_path):
    p = tmp_path / "evil.bin"
    p.write_bytes(pickle.dumps(([b"a", b"b"], [Evil()])))
    with pytest.raises(BinFormatError, match="refusing to load global builtins.print"):
        load_bin(p)


def test_mismatched_counts(tmp_path):
    p = tmp_path / "bad.bin"
    p.write_bytes(pickle.dumps(([b"a", b"b", b"c"], [True])))
    with pytest.raises(BinFormatError, match="3 images for 1 pairs"):
        load_bin(p)
    with pytest.raises(BinFormatError, match="need 2 per pair"):
        save_bin(tmp_path / "o.bin", [b"a"], [True])


def test_garbage_and_missing(tmp_path):
    with pytest.raises(BinFormatError, match="not a valid"):
        loads_bin(b"not a pickle", "g.bin")
    with pytest.raises(BinFormatError, match="no such"):
        load_bin(tmp_path / "missing.bin")
