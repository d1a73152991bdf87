"""ImageFolderDataset / RecordIODataset: items, labels, label maps, bad files, workers."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from data_helpers import encode, face_array, write_folder
from torch.utils.data import DataLoader

from clusterface.data import (
    ImageDecodeError,
    ImageFolderDataset,
    LabelMapError,
    RecordIODataset,
    RecordIOWriter,
    TooManyBadFilesError,
    pack_record,
)


def test_folder_items_and_labels(small_folder):
    root, expected = small_folder
    (root / "id_00" / "notes.txt").write_text("hi")
    (root / "README").write_text("top-level file")
    ds = ImageFolderDataset(root, bad_file_policy="raise")
    assert len(ds) == 10 and ds.num_classes == 4
    assert ds.labels.tolist() == [lab for _, lab in expected]
    assert ds.paths == [p for p, _ in expected]
    assert sorted(p.name for p in ds.ignored) == ["README", "notes.txt"]
    img, label = ds[4]
    assert img.dtype == torch.uint8 and img.shape == (3, 112, 112) and label == 2
    assert np.abs(img.permute(1, 2, 0).numpy().astype(int) - face_array(2000 + 0)).mean() < 3


def test_label_map_written_then_enforced(small_folder, tmp_path):
    root, _ = small_folder
    map_path = tmp_path / "run" / "labels.json"
    ds = ImageFolderDataset(root, label_map=map_path)
    assert json.loads(map_path.read_text()) == {"id_00": 0, "id_01": 1, "id_02": 2, "id_03": 3}
    # a new identity that sorts first does not shift the persisted labels ... it is an error
    (root / "aaa").mkdir()
    with pytest.raises(LabelMapError, match="labels.json: 1 identity folder"):
        ImageFolderDataset(root, label_map=map_path)
    (root / "aaa").rmdir()
    # a custom map reorders labels
    map_path.write_text(json.dumps({"id_00": 3, "id_01": 2, "id_02": 1, "id_03": 0, "gone": 7}))
    ds = ImageFolderDataset(root, label_map=map_path)
    assert ds.num_classes == 8
    assert ds.labels.tolist() == [0, 0, 1, 1, 1, 1, 2, 3, 3, 3]
    assert all(ds.label_map[p.parent.name] == lab for p, lab in zip(ds.paths, ds.labels, strict=True))
    # root/label_map.json is picked up by default
    ds.save_label_map(root / "label_map.json")
    assert ImageFolderDataset(root).labels.tolist() == ds.labels.tolist()


def corrupt(path):
    path.write_bytes(path.read_bytes()[:200])


def test_bad_file_raise_names_the_file(small_folder):
    root, expected = small_folder
    bad = expected[1][0]
    corrupt(bad)
    ds = ImageFolderDataset(root, bad_file_policy="raise")
    with pytest.raises(ImageDecodeError, match=str(bad)):
        ds[1]


def test_bad_file_skip_replaces_deterministically(small_folder, caplog):
    root, expected = small_folder
    bad = expected[1][0]
    corrupt(bad)
    ds = ImageFolderDataset(root, bad_file_policy="skip", max_bad_fraction=0.2)
    with caplog.at_level(logging.WARNING, logger="clusterface.data"):
        img, label = ds[1]
    assert str(bad) in caplog.text
    ref_img, ref_label = ds[2]  # the next readable sample
    assert torch.equal(img, ref_img) and label == ref_label
    assert list(ds.bad_files) == [1] and str(bad) in ds.bad_files[1]
    # batch sizes stay equal
    batches = [b[0].shape[0] for b in DataLoader(ds, batch_size=5)]
    assert batches == [5, 5]


def test_bad_fraction_aborts(small_folder):
    root, expected = small_folder
    corrupt(expected[0][0])
    corrupt(expected[5][0])
    ds = ImageFolderDataset(root, bad_file_policy="skip", max_bad_fraction=0.1)  # 1 of 10 allowed
    ds[0]
    with pytest.raises(TooManyBadFilesError, match=r"2 bad files out of 10 .*" + expected[5][0].name):
        ds[5]


def write_rec(tmp_path, n=24, classes=5, bad=()):
    rec = tmp_path / "w.rec"
    with RecordIOWriter(rec) as w:
        for k in range(n):
            img = b"garbage" if k in bad else encode(face_array(k))
            w.write(k, pack_record(k % classes, img))
    return rec


def test_recordio_bad_record_skip_and_raise(tmp_path):
    rec = write_rec(tmp_path, n=6, bad=(3,))
    with pytest.raises(ImageDecodeError, match=r"w\.rec: record 3"):
        RecordIODataset(rec, bad_file_policy="raise")[3]
    ds = RecordIODataset(rec, bad_file_policy="skip", max_bad_fraction=0.5)
    img, label = ds[3]
    assert label == 4 and torch.equal(img, ds[4][0])
    assert "w.rec: record 3" in ds.bad_files[3]


def collect(loader):
    images, labels = [], []
    for img, lab in loader:
        images.append(img)
        labels.append(lab)
    return torch.cat(images), torch.cat(labels)


@pytest.mark.slow
def test_recordio_workers_match_single_process(tmp_path):
    rec = write_rec(tmp_path, n=24)
    ds = RecordIODataset(rec)
    ds[0]  # open the map in the parent first: workers must reopen their own
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(len(ds), generator=gen).tolist()
    img0, lab0 = collect(DataLoader(ds, batch_size=4, sampler=order, num_workers=0))
    img2, lab2 = collect(DataLoader(ds, batch_size=4, sampler=order, num_workers=2))
    assert torch.equal(img0, img2) and torch.equal(lab0, lab2)
    assert lab0.tolist() == [k % 5 for k in order]
    spawn = DataLoader(ds, batch_size=4, sampler=order, num_workers=2, multiprocessing_context="spawn")
    img3, lab3 = collect(spawn)
    assert torch.equal(img0, img3) and torch.equal(lab0, lab3)


def test_folder_and_recordio_agree(tmp_path):
    root = tmp_path / "f"
    write_folder(root, [2, 3])
    folder = ImageFolderDataset(root)
    rec = tmp_path / "r.rec"
    with RecordIOWriter(rec) as w:
        for i, p in enumerate(folder.paths):
            w.write(i, pack_record(int(folder.labels[i]), p.read_bytes()))
    recds = RecordIODataset(rec)
    assert recds.labels.tolist() == folder.labels.tolist()
    for i in range(len(folder)):
        assert torch.equal(folder[i][0], recds[i][0])


def test_path_table_keeps_unusual_names(tmp_path):
    from clusterface.data.image_folder import PathTable

    root = tmp_path / "r"
    names = [root / "Zoë Ünal" / "a b.jpg", root / "李" / "1.png", root / "x" / "sub" / "deep.jpeg"]
    table = PathTable(root, names)
    assert len(table) == 3 and table.tolist() == names and table[1] == names[1]
    assert table.blob.dtype == np.uint8 and table.offsets.dtype == np.int64
