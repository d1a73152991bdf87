"""LFW pairs.txt (10-fold and development layouts) over an image folder; .bin from pairs."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import encode, face_array
from PIL import Image

from clusterface.data import decode_face, decode_faces, load_bin, save_bin
from clusterface.data.pairs import PairsFormatError, pairs_to_bin, read_pairs


def lfw_folder(root, names=("Alice", "Bob", "Carol"), per=3, style="lfw"):
    for k, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for n in range(1, per + 1):
            stem = f"{name}_{n:04d}" if style == "lfw" else str(n)
            (root / name / f"{stem}.jpg").write_bytes(encode(face_array(100 * k + n)))


def test_ten_fold_layout(tmp_path):
    root = tmp_path / "lfw"
    lfw_folder(root)
    lines = ["2\t2"]
    for f in range(2):
        lines += [f"Alice\t1\t{2 + f}", "Bob\t1\t2"]  # matched
        lines += [f"Alice\t{1 + f}\tBob\t3", "Bob\t2\tCarol\t1"]  # mismatched
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    plist = read_pairs(tmp_path / "pairs.txt", root)
    assert plist.layout == "10-fold" and plist.num_folds == 2 and len(plist) == 8
    assert plist.issame.tolist() == [True, True, False, False] * 2
    assert plist.folds.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    p1, p2, same = next(iter(plist))
    assert (p1.name, p2.name, same) == ("Alice_0001.jpg", "Alice_0002.jpg", True)
    assert plist.pairs[6].path1.name == "Alice_0002.jpg" and plist.pairs[6].path2.name == "Bob_0003.jpg"


def test_development_layout_and_plain_numbering(tmp_path):
    root = tmp_path / "images"
    lfw_folder(root, style="plain")
    (tmp_path / "pairsDevTest.txt").write_text("2\nAlice 1 2\nCarol 2 3\nAlice 1 Bob 2\nBob 3 Carol 3\n")
    plist = read_pairs(tmp_path / "pairsDevTest.txt")  # ./images found next to it
    assert plist.layout == "development" and plist.num_folds == 1
    assert plist.issame.tolist() == [True, True, False, False]
    assert plist.folds.tolist() == [0, 0, 0, 0]
    assert plist.pairs[1].path2 == root / "Carol" / "3.jpg"


def test_pair_errors_name_file_and_line(tmp_path):
    root = tmp_path / "images"
    lfw_folder(root)
    p = tmp_path / "pairs.txt"
    p.write_text("1\nAlice 1 9\nAlice 1 Bob 1\n")
    with pytest.raises(PairsFormatError, match=r"pairs\.txt: line 2: no image 9 of 'Alice'"):
        read_pairs(p)
    p.write_text("1\nAlice 1\nAlice 1 Bob 1\n")
    with pytest.raises(PairsFormatError, match=r"pairs\.txt: line 2: a matched pair"):
        read_pairs(p)
    p.write_text("10\t300\nAlice 1 2\n")
    with pytest.raises(PairsFormatError, match="6000 lines, found 1"):
        read_pairs(p)


def test_pairs_to_bin_round_trips_through_save_bin(tmp_path):
    root = tmp_path / "images"
    lfw_folder(root)
    # one non-JPEG crop of another size: re-encoded as a 112x112 PNG any decoder reads the same
    rgba = np.dstack([face_array(7, 100), np.full((100, 100), 255, np.uint8)])
    rgba[:20, :, 3] = 0
    rgba_png = encode(Image.fromarray(rgba, "RGBA"), "PNG")
    (root / "Carol" / "Carol_0004.png").write_bytes(rgba_png)
    (tmp_path / "pairs.txt").write_text("1\t1\nAlice 1 2\nAlice 3 Carol 4\n")
    vbin = pairs_to_bin(tmp_path / "pairs.txt")
    assert vbin.issame == [True, False] and len(vbin.images) == 4
    assert vbin.images[0] == (root / "Alice" / "Alice_0001.jpg").read_bytes()
    assert vbin.images[3].startswith(b"\x89PNG")
    # the evaluator's batch decoding sees exactly what the training decoder produced (alpha composited)
    assert np.array_equal(decode_faces([vbin.images[3]])[0], decode_face(rgba_png).numpy())
    save_bin(tmp_path / "x.bin", vbin.images, vbin.issame)
    assert load_bin(tmp_path / "x.bin").issame == [True, False]


def test_load_verification_set_by_path(tmp_path):
    from clusterface.data import load_verification_set

    root = tmp_path / "images"
    lfw_folder(root)
    (tmp_path / "pairs.txt").write_text("1\nAlice 1 2\nAlice 3 Bob 1\n")
    from_pairs = load_verification_set(tmp_path / "pairs.txt")
    save_bin(tmp_path / "v.bin", from_pairs.images, from_pairs.issame)
    from_bin = load_verification_set(tmp_path / "v.bin")
    assert from_bin == from_pairs and from_bin.issame == [True, False]
