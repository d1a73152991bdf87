"""`cluster --detect`: photos -> people folders and a gallery; a rerun embeds only new photos."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from clusterface.align import DlibDetector
from clusterface.photos import cluster_photos, write_outputs


class CountingDetector:
    """Wraps a detector and counts the photos it is asked about."""

    def __init__(self, inner) -> None:
        self.inner, self.calls, self.name, self.settings = inner, 0, inner.name, inner.settings

    def detect(self, rgb):
        self.calls += 1
        return self.inner.detect(rgb)


def _photo_folder(photos: Path, root: Path) -> Path:
    root.mkdir()
    obama = cv2.imread(str(photos / "obama.jpg"))
    biden = cv2.imread(str(photos / "biden.jpg"))
    biden = cv2.resize(biden, (round(biden.shape[1] * obama.shape[0] / biden.shape[0]), obama.shape[0]))
    cv2.imwrite(str(root / "obama.jpg"), obama)
    cv2.imwrite(str(root / "biden.jpg"), biden)
    cv2.imwrite(str(root / "together.jpg"), np.hstack([obama, biden]))  # one photo, two people
    cv2.imwrite(str(root / "wall.png"), np.full((200, 300, 3), 200, np.uint8))
    return root


def test_people_folders_gallery_and_incremental_rerun(photos: Path, detector, small_model, tmp_path: Path):
    src = _photo_folder(photos, tmp_path / "photos")
    out = tmp_path / "out"
    counting = CountingDetector(detector)
    # k-means with K = 2: the two copies of each face are (nearly) identical pixels, so even an
    # untrained model pairs them; the joint photo then belongs to both people
    first = cluster_photos(src, out, small_model, counting, method="kmeans", num_clusters=2, progress=False)
    assert counting.calls == 4 and first.detected_photos == 4 and first.reused_photos == 0
    assert len(first.faces) == 4 and first.no_face == [src / "wall.png"]
    files = write_outputs(first, out)
    people = sorted(p.name for p in files["people"].iterdir())
    assert people == ["person_001", "person_002"]
    for person in people:
        links = sorted((files["people"] / person).iterdir())
        assert all(p.is_symlink() and p.resolve().parent == src.resolve() for p in links)
        assert "together.jpg" in [p.name for p in links]  # the joint photo is in both folders
        assert {p.name for p in links} in ({"obama.jpg", "together.jpg"}, {"biden.jpg", "together.jpg"})
    page = files["html"].read_text()
    assert "Photos in several clusters (1)" in page and "4 faces in 4 photos" in page
    assert "Photos without a face (1)" in page
    rows = list(csv.DictReader(files["csv"].open()))
    assert len(rows) == 4 and all((out / "faces" / r["crop"]).is_file() for r in rows)

    # add a photo and rerun (a new detector object, as a new process has): only the new photo is
    # detected, the old embeddings come from the store
    cv2.imwrite(str(src / "obama3.jpg"), cv2.imread(str(photos / "obama3.jpg")))
    counting = CountingDetector(DlibDetector())
    second = cluster_photos(src, out, small_model, counting, method="kmeans", num_clusters=2, progress=False)
    assert counting.calls == 1 and second.detected_photos == 1 and second.reused_photos == 4
    assert len(second.faces) == 5
    old = {(f.photo.name, f.index): e for f, e in zip(first.faces, first.embeddings, strict=True)}
    for f, e in zip(second.faces, second.embeddings, strict=True):
        if (f.photo.name, f.index) in old:
            np.testing.assert_array_equal(e, old[(f.photo.name, f.index)])
    # stored embeddings are the model's embeddings of the crops
    crops = [cv2.imread(str(f.crop))[:, :, ::-1] for f in second.faces]
    np.testing.assert_allclose(small_model.embed(np.stack(crops)), second.embeddings, atol=2e-3)


def test_copy_mode_copies(photos: Path, detector, small_model, tmp_path: Path):
    src = tmp_path / "p"
    src.mkdir()
    (src / "a.jpg").write_bytes((photos / "obama.jpg").read_bytes())
    (src / "b.jpg").write_bytes((photos / "obama.jpg").read_bytes())
    result = cluster_photos(src, tmp_path / "out", small_model, detector, method="components", threshold=0.99)
    files = write_outputs(result, tmp_path / "out", link="copy")
    (folder,) = list(files["people"].iterdir())
    assert folder.name == "person_001"  # identical photos: one person, 2 faces
    assert all(not p.is_symlink() and p.stat().st_size > 0 for p in folder.iterdir())


def test_cluster_detect_cli(photos: Path, detector, small_model, tmp_path: Path, capsys):
    from clusterface.cli import main

    src = _photo_folder(photos, tmp_path / "photos")
    out = tmp_path / "out"
    args = ["cluster", str(src), "--detect", "--model", str(small_model.source), "--out", str(out)]
    assert main([*args, "--method", "kmeans", "--num-clusters", "2"]) == 0
    text = capsys.readouterr().out
    assert "4 photos (0 reused, 4 detected): 4 faces -> 2 people" in text
    assert (out / "index.html").is_file() and (out / "people" / "person_002").is_dir()
    assert main([*args, "--method", "kmeans", "--num-clusters", "2"]) == 0  # rerun: all from the store
    assert "4 photos (4 reused, 0 detected)" in capsys.readouterr().out
    assert main(["cluster", str(src), "--detect", "--out", str(out)]) != 0  # no model
