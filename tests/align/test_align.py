"""Alignment on real photographs: faces found, landmarks where a person put them, crops on the template."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from clusterface.align import (
    ARCFACE_TEMPLATE,
    align_folder,
    apply_transform,
    detect_faces,
    read_photo,
    similarity_transform,
)

# The ArcFace five (image-left eye, image-right eye, nose tip, mouth corners), read by hand once off
# a zoomed pixel grid of each photo. obama.jpg and biden.jpg set the dlib template; obama3.jpg is held out.
HAND = {
    "obama.jpg": [(442, 214), (550, 211), (497, 272), (439, 320), (542, 318)],
    "biden.jpg": [(530, 323), (650, 348), (615, 413), (517.5, 459), (627.5, 478)],
    "obama3.jpg": [(737.5, 384), (855, 394), (800, 445), (731, 512.5), (847.5, 526)],
}


def test_similarity_transform_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 500, (5, 2))
    angle, scale, shift = 0.3, 0.37, np.array([12.0, -40.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ (scale * rot).T + shift
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m, np.hstack([scale * rot, shift[:, None]]), atol=1e-9)
    np.testing.assert_allclose(apply_transform(m, src), dst, atol=1e-9)


def test_a_face_in_every_photo(photos: Path, detector):
    for photo in sorted(photos.iterdir()):
        found = detect_faces(detector, read_photo(photo))
        assert len(found) >= 1, photo.name
        assert found[0].score > 0


@pytest.mark.parametrize("name", sorted(HAND))
def test_landmarks_on_the_eyes_and_mouth_and_crop_on_the_template(photos: Path, detector, name: str):
    (face, *_) = detect_faces(detector, read_photo(photos / name))
    hand = np.array(HAND[name], dtype=np.float64)
    iod = float(np.linalg.norm(hand[1] - hand[0]))  # inter-ocular distance, 108-123 px here
    err = np.linalg.norm(face.landmarks - hand, axis=1) / iod
    assert err[:2].max() < 0.08, f"eyes off by {err[:2]} x IOD"
    # dlib's 5-point model has no mouth points: the corners are the template's, mapped back, so a broad
    # smile (obama.jpg) puts them ~0.18 IOD from the real corners
    assert err[3:].max() < 0.2, f"mouth corners off by {err[3:]} x IOD"
    x0, y0, x1, y1 = face.box
    assert x0 < hand[:, 0].min() and hand[:, 0].max() < x1 and y0 < hand[:, 1].min() and hand[:, 1].max() < y1
    # the person's points carried into the 112x112 crop: eyes on the template, the mouth within what
    # expression allows, and every point within 3.5 px of where the best similarity fit to the
    # hand-measured points themselves puts it (no alignment from these 5 points can do better)
    in_crop = apply_transform(face.transform, hand)
    px = np.linalg.norm(in_crop - ARCFACE_TEMPLATE, axis=1)
    assert px[:2].max() < 3.0 and px[3:].max() < 6.5, f"crop off the template by {px} px"
    best = apply_transform(similarity_transform(hand, ARCFACE_TEMPLATE), hand)
    assert np.linalg.norm(in_crop - best, axis=1).max() < 3.5


def test_align_folder_writes_crops_csv_and_lists_photos_without_a_face(photos: Path, detector, tmp_path: Path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for name in ("obama.jpg", "biden.jpg"):
        (src / "sub" / name).write_bytes((photos / name).read_bytes())
    wall = np.full((300, 400, 3), 180, np.uint8)
    cv2.line(wall, (0, 0), (399, 299), (20, 40, 200), 5)
    cv2.imwrite(str(src / "wall.png"), wall)
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "out"
    result = align_folder(src, out, detector, progress=False)
    assert result.photos == 4 and len(result.faces) == 2
    assert result.no_face == [src / "wall.png"]
    assert (out / "no_face.txt").read_text() == f"{src / 'wall.png'}\n"
    assert "broken.jpg" in (out / "unreadable.txt").read_text()
    rows = list(csv.DictReader((out / "faces.csv").open()))
    assert [r["crop"] for r in rows] == ["sub__biden_0.png", "sub__obama_0.png"]
    assert rows[1]["photo"] == "sub/obama.jpg" and float(rows[1]["score"]) > 0
    hand = np.array(HAND["obama.jpg"])
    got = np.array([[float(rows[1][f"{n}_{c}"]) for c in "xy"] for n in ("left_eye", "right_eye")])
    assert np.abs(got - hand[:2]).max() < 8
    crop = cv2.imread(str(out / "faces" / "sub__obama_0.png"))
    assert crop.shape == (112, 112, 3)


def test_align_cli_without_detector_says_how_to_install(tmp_path: Path, monkeypatch, capsys):
    import clusterface.align as align
    from clusterface.cli import main

    def unavailable(*args, **kwargs):
        raise align.DetectorUnavailableError("dlib is not installed; install the face detector with ...[detect]")

    monkeypatch.setattr(align, "DlibDetector", unavailable)
    assert main(["align", str(tmp_path), str(tmp_path / "out")]) == 2
    assert "[detect]" in capsys.readouterr().err
