"""Paths from data (docs/reliability.md): identity names from a label map (or a .rec's sidecar) containing
``../``, absolute paths or NUL never make ``data convert`` or ``cluster`` write outside the output."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from data_helpers import write_folder

from clusterface.analysis.results import ClusteringEvaluation
from clusterface.cli import main
from clusterface.clustering import ClusteringOptions
from clusterface.clustering.face_set import load_face_set
from clusterface.data.convert import folder_to_recordio, is_plain_folder_name, recordio_to_folder
from clusterface.data.image_folder import LabelMapError


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


HOSTILE = ["../escape", "../../etc/cron.d/x", "/tmp/abs", "a\x00b", "..", ".", "", "a/b", "x" * 300]


@pytest.mark.parametrize("name", HOSTILE)
def test_rec_to_folder_refuses_identity_names_that_are_not_plain(tmp_path: Path, name: str) -> None:
    work = tmp_path / "work"
    src = work / "faces"
    write_folder(src, [2, 2])
    rec = work / "rec" / "train.rec"
    folder_to_recordio(src, rec, progress=False)
    # a downloaded .rec comes with a hostile sidecar label map
    sidecar = rec.with_suffix(".label_map.json")
    sidecar.write_text(json.dumps({"id_00": 0, name: 1}))
    before = _tree(tmp_path)
    with pytest.raises(LabelMapError, match=r"train\.label_map\.json: identity name .* is not a plain folder name"):
        recordio_to_folder(rec, work / "out" / "dst", progress=False)
    # nothing written anywhere: only the output's parent exists (made to hold the lock file)
    assert _tree(tmp_path) == before | {"work/out"}
    assert not any((work / "out").iterdir())
    assert main(["data", "convert", str(rec), str(work / "out" / "dst"), "--no-progress"]) == 1


def test_plain_folder_names() -> None:
    assert is_plain_folder_name("Nelson_Mandela") and is_plain_folder_name("..a") and is_plain_folder_name("é n")
    bad = ["", ".", "..", "a/b", "a\\b", "a\0b", "/x", "x" * 256, "\udcff"[:0] + "../x"]
    assert not any(is_plain_folder_name(n) for n in bad)


def test_cluster_csv_keeps_hostile_names_inside_one_quoted_field(tmp_path: Path) -> None:
    # file and folder names may hold commas, quotes, newlines and bytes that are not UTF-8
    root = tmp_path / "faces"
    names = ["a,b", 'q"uote', "new\nline", os.fsdecode(b"\xff\xfe-latin")]
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "0.jpg").write_bytes(b"x")
    face_set = load_face_set(root)
    ev = ClusteringEvaluation(
        source=str(root),
        item_names=face_set.item_names(root),
        labels=face_set.labels,
        class_names=face_set.class_names,
        features=np.zeros((len(names), 2), np.float32),
        options=ClusteringOptions(),
        threshold_source="test",
        assignments={"components": np.arange(len(names))},
    )
    out = tmp_path / "out"
    # before: the non-UTF-8 name raised UnicodeEncodeError and a newline split a row in two
    ev.write_assignments(out / "assignments.csv")
    assert _tree(out) == {"assignments.csv"}
    rows = list(csv.reader((out / "assignments.csv").open(encoding="utf-8", newline="")))
    assert len(rows) == 1 + len(names)
    assert {r[-1] for r in rows[1:]} == {"a,b", 'q"uote', "new\nline", "\\udcff\\udcfe-latin"}
