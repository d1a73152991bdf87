"""data scan: format detection, report contents, exit codes."""

from __future__ import annotations

import json
import pickle

import pytest
from data_helpers import write_folder

from clusterface.cli import main
from clusterface.data import save_bin
from clusterface.data.convert import folder_to_recordio
from clusterface.data.scan import class_size_histogram, detect_format, scan_path


def test_histogram_buckets():
    assert class_size_histogram([1, 1, 2, 3, 5, 6, 10, 11, 2000]) == {
        "1": 2,
        "2": 1,
        "3-5": 2,
        "6-10": 2,
        "11-20": 1,
        ">1000": 1,
    }


def test_detect_format(tmp_path):
    assert detect_format(tmp_path) == "image-folder"
    assert detect_format(tmp_path / "a.rec") == "recordio"
    assert detect_format(tmp_path / "a.idx") == "recordio"
    assert detect_format(tmp_path / "lfw.bin") == "bin"
    assert detect_format(tmp_path / "pairs.txt") == "pairs"


def test_scan_folder_report_and_exit_codes(tmp_path, capsys):
    root = tmp_path / "f"
    files = write_folder(root, [3, 2, 1])
    (root / "id_00" / "a.txt").write_text("x")
    report = scan_path(root)
    assert report.usable and report.images == 6 and report.identities == 3
    assert report.class_size_histogram == {"1": 1, "2": 1, "3-5": 1}
    assert report.image_sizes == {"112x112": 6} and report.image_modes == {"JPEG RGB": 6}
    assert report.ignored_files == [str(root / "id_00" / "a.txt")]
    assert main(["data", "scan", str(root), "--no-progress", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "identities: 3" in out and "usable: yes" in out
    assert json.loads((tmp_path / "r.json").read_text())["usable"] is True

    files[4][0].write_bytes(b"garbage")
    assert main(["data", "scan", str(root), "--no-progress"]) == 1  # 1 of 6 > 1%
    out = capsys.readouterr().out
    assert str(files[4][0]) in out and "usable: NO" in out
    assert main(["data", "scan", str(root), "--no-progress", "--max-bad-fraction", "0.2"]) == 0
    assert main(["data", "scan", str(tmp_path / "missing"), "--no-progress"]) == 1


def test_scan_recordio_and_truncation(tmp_path, capsys):
    src = tmp_path / "f"
    write_folder(src, [2, 2])
    rec = tmp_path / "t.rec"
    folder_to_recordio(src, rec, progress=False)
    report = scan_path(rec.with_suffix(".idx"))
    assert report.usable and report.images == 4 and report.identities == 2
    assert report.details["layout"].startswith("insightface")
    # truncate inside the last image record: the idx now points past the end for later records
    rec.write_bytes(rec.read_bytes()[:200])
    assert main(["data", "scan", str(rec), "--no-progress"]) == 1
    assert "past the end" in capsys.readouterr().out


def test_scan_bin(tmp_path):
    src = tmp_path / "f"
    files = write_folder(src, [2, 2])
    images = [p.read_bytes() for p, _ in files]
    save_bin(tmp_path / "v.bin", images, [True, False])
    report = scan_path(tmp_path / "v.bin")
    assert report.usable and report.pairs == 2 and report.genuine_pairs == 1
    (tmp_path / "bad.bin").write_bytes(pickle.dumps((images[:3], [True])))
    report = scan_path(tmp_path / "bad.bin")
    assert not report.usable and "3 images for 1 pairs" in report.problems[0]
    save_bin(tmp_path / "c.bin", [*images[:3], b"junk"], [True, False])
    report = scan_path(tmp_path / "c.bin")
    assert not report.usable and report.bad_files[0].path.endswith("c.bin[3]")


def test_scan_pairs(tmp_path, capsys):
    root = tmp_path / "images"
    write_folder(root, [2, 2])
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1\t1\nid_00 0 1\nid_00 0 id_01 1\n")
    report = scan_path(pairs)
    assert report.usable and report.pairs == 2 and report.images == 3 and report.folds == 1
    pairs.write_text("1\t1\nid_00 0 1\nid_00 0 id_01 7\n")
    assert main(["data", "scan", str(pairs), "--no-progress"]) == 1
    assert "missing" in capsys.readouterr().out


@pytest.mark.slow
def test_parallel_scan_matches_sequential(tmp_path):
    root = tmp_path / "f"
    files = write_folder(root, [5, 4, 3, 2, 1])
    files[3][0].write_bytes(b"garbage")
    files[9][0].write_bytes(files[9][0].read_bytes()[:300])
    seq = scan_path(root, workers=0)
    par = scan_path(root, workers=2)
    assert seq.to_dict() == par.to_dict()
    assert [b.path for b in par.bad_files] == [str(files[3][0]), str(files[9][0])]
    rec = tmp_path / "t.rec"
    folder_to_recordio(root, rec, verify=False, progress=False)
    assert scan_path(rec, workers=2).to_dict() == scan_path(rec).to_dict()
    assert len(scan_path(rec, workers=2).bad_files) == 2


def test_insightface_directory_is_recordio(tmp_path):
    from clusterface.data import RecordIODataset

    src = tmp_path / "f"
    write_folder(src, [2, 2])
    emore = tmp_path / "faces_emore"
    folder_to_recordio(src, emore / "train.rec", progress=False)
    (emore / "property").write_text("2,112,112\n")
    assert detect_format(emore) == "recordio"
    report = scan_path(emore)
    assert report.usable and report.format == "recordio" and report.path == str(emore / "train.rec")
    assert len(RecordIODataset(emore)) == 4
