"""data convert: folder -> RecordIO -> folder round trip, atomic outputs, bad files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from data_helpers import encode, face_array, write_folder
from PIL import Image

from clusterface.cli import main
from clusterface.data import ImageFolderDataset, IndexedRecordIO, RecordIODataset, index_image_folder
from clusterface.data import convert as convert_module
from clusterface.data.convert import folder_to_recordio, recordio_to_folder


def folder_contents(root):
    """identity -> sorted list of image bytes, plus the label of each identity."""
    index = index_image_folder(root)
    out: dict[str, list[bytes]] = {}
    for p in index.paths:
        out.setdefault(p.parent.name, []).append(p.read_bytes())
    return {k: sorted(v) for k, v in out.items()}, index.label_map


def test_round_trip_folder_rec_folder(tmp_path):
    src = tmp_path / "src"
    write_folder(src, [3, 1, 4])
    (src / "id_01" / "extra.png").write_bytes(encode(face_array(99), "PNG"))
    (src / "id_02" / "notes.txt").write_text("not an image")
    rec = tmp_path / "out" / "train.rec"
    res = folder_to_recordio(src, rec, progress=False)
    assert res.images == 9 and res.identities == 3 and not res.skipped
    assert rec.exists() and rec.with_suffix(".idx").exists()
    assert json.loads(rec.with_suffix(".label_map.json").read_text()) == {"id_00": 0, "id_01": 1, "id_02": 2}

    ds = RecordIODataset(rec, bad_file_policy="raise")
    assert ds.layout.has_header and ds.layout.identity_ranges is not None
    folder = ImageFolderDataset(src, bad_file_policy="raise")
    assert ds.labels.tolist() == folder.labels.tolist() and ds.num_classes == 3
    for i in range(len(ds)):
        assert torch.equal(ds[i][0], folder[i][0])

    back = tmp_path / "back"
    res2 = recordio_to_folder(rec, back, progress=False)
    assert res2.images == 9 and res2.identities == 3
    assert folder_contents(back) == folder_contents(src)
    assert ImageFolderDataset(back).labels.tolist() == folder.labels.tolist()
    assert sorted(p.suffix for p in (back / "id_01").iterdir()) == [".jpg", ".png"]


def test_rec_without_names_gets_padded_labels(tmp_path):
    src = tmp_path / "src"
    write_folder(src, [1] * 11)
    rec = tmp_path / "t.rec"
    folder_to_recordio(src, rec, progress=False)
    rec.with_suffix(".label_map.json").unlink()
    back = tmp_path / "back"
    recordio_to_folder(rec, back, progress=False)
    names = sorted(p.name for p in back.iterdir() if p.is_dir())
    assert names == [f"{i:02d}" for i in range(11)]
    assert ImageFolderDataset(back).labels.tolist() == list(range(11))


def test_label_gaps_keep_labels(tmp_path):
    src = tmp_path / "src"
    write_folder(src, [2, 2])
    (src / "label_map.json").write_text(json.dumps({"id_00": 0, "gone": 1, "id_01": 2}))
    rec = tmp_path / "t.rec"
    folder_to_recordio(src, rec, progress=False)
    ds = RecordIODataset(rec)
    assert ds.labels.tolist() == [0, 0, 2, 2] and ds.num_classes == 3
    assert ds.layout.identity_ranges is not None and ds.layout.identity_ranges.tolist() == [[1, 3], [3, 3], [3, 5]]


def test_bad_images_left_out_and_reported(tmp_path):
    src = tmp_path / "src"
    files = write_folder(src, [2, 2])
    files[1][0].write_bytes(b"\xff\xd8 truncated")
    rec = tmp_path / "t.rec"
    res = folder_to_recordio(src, rec, progress=False)
    assert res.images == 3 and [b.path for b in res.skipped] == [str(files[1][0])]
    assert RecordIODataset(rec).labels.tolist() == [0, 1, 1]


def test_interrupted_convert_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    src = tmp_path / "src"
    write_folder(src, [3, 3])
    calls = {"n": 0}
    real = convert_module.decode_image

    def flaky(data, name="<bytes>"):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(data, name)

    monkeypatch.setattr(convert_module, "decode_image", flaky)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        folder_to_recordio(src, out / "train.rec", progress=False)
    assert sorted(p.name for p in out.iterdir()) == []
    # and the other direction
    monkeypatch.setattr(convert_module, "decode_image", real)
    folder_to_recordio(src, out / "train.rec", progress=False)
    calls["n"] = 0
    monkeypatch.setattr(convert_module, "decode_image", flaky)
    with pytest.raises(KeyboardInterrupt):
        recordio_to_folder(out / "train.rec", tmp_path / "back", progress=False)
    assert not (tmp_path / "back").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".back")]


def test_cli_convert_refuses_to_overwrite(tmp_path):
    src = tmp_path / "src"
    write_folder(src, [1, 2])
    assert main(["data", "convert", str(src), str(tmp_path / "o"), "--no-progress"]) == 0
    assert (tmp_path / "o" / "train.rec").exists()
    assert main(["data", "convert", str(src), str(tmp_path / "o"), "--no-progress"]) == 1
    assert main(["data", "convert", str(src), str(tmp_path / "o"), "--no-progress", "--overwrite"]) == 0
    assert main(["data", "convert", str(tmp_path / "o" / "train.idx"), str(tmp_path / "f"), "--no-progress"]) == 0
    assert len(IndexedRecordIO(tmp_path / "o" / "train.rec")) == 1 + 3 + 2
    img = np.asarray(Image.open(next((tmp_path / "f" / "id_01").iterdir())))
    assert img.shape == (112, 112, 3)
