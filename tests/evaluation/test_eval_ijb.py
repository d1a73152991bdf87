"""IJB-B/C 1:1 template protocol on a small IJB-shaped set built here."""

import numpy as np
import pytest
from eval_helpers import MeanColour, make_ijb

from clusterface.evaluation.ijb import (
    ARCFACE_TEMPLATE,
    IJBFormatError,
    evaluate_ijb,
    image_to_template_features,
    read_ijb_meta,
    similarity_transform,
)


def _reference_template_features(img_feats, templates, medias):
    """insightface ijb_11.py image2template_feature, as written there (loops)."""
    unique_templates = np.unique(templates)
    out = np.zeros((len(unique_templates), img_feats.shape[1]))
    for c, uqt in enumerate(unique_templates):
        (ind_t,) = np.where(templates == uqt)
        face_feats = img_feats[ind_t]
        face_medias = medias[ind_t]
        unique_medias, counts = np.unique(face_medias, return_counts=True)
        media_feats = []
        for u, ct in zip(unique_medias, counts, strict=True):
            (ind_m,) = np.where(face_medias == u)
            media_feats.append(face_feats[ind_m][0] if ct == 1 else face_feats[ind_m].mean(0))
        out[c] = np.sum(media_feats, axis=0)
    return out / np.linalg.norm(out, axis=1, keepdims=True), unique_templates


def test_template_features_match_reference():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(60, 8))
    templates = rng.integers(100, 110, size=60)
    medias = rng.integers(0, 6, size=60)  # some media shared between templates
    ours, ids = image_to_template_features(feats, templates, medias)
    ref, ref_ids = _reference_template_features(feats, templates, medias)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_template_features_known_answer():
    feats = np.array([[1.0, 0], [3.0, 0], [0, 2.0], [5.0, 5.0]])
    # template 7: media 1 = {(1,0), (3,0)} -> mean (2,0); media 2 = {(0,2)}; sum (2,2) -> (1,1)/√2
    out, ids = image_to_template_features(feats, np.array([7, 7, 7, 9]), np.array([1, 1, 2, 3]))
    np.testing.assert_array_equal(ids, [7, 9])
    np.testing.assert_allclose(out, [[2**-0.5, 2**-0.5], [2**-0.5, 2**-0.5]], atol=1e-6)


def test_similarity_transform_recovers_known_transform():
    angle, scale, shift = np.deg2rad(12), 1.7, np.array([5.0, -3.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = ARCFACE_TEMPLATE @ rot.T + shift
    m = similarity_transform(ARCFACE_TEMPLATE, dst)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-5)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-4)


def test_ijb_end_to_end(tmp_path):
    root = make_ijb(tmp_path / "IJBC")
    meta = read_ijb_meta(root)
    assert meta.name == "ijbc" and meta.landmarks.shape == (len(meta.image_names), 5, 2)
    res = evaluate_ijb(MeanColour(), root, progress=False)
    d = res.to_dict()
    assert d["num_templates"] == 24 and d["num_pairs"] == 24 * 23 // 2 and d["num_genuine"] == 12
    assert d["tar_at_far"]["1e-01"] == pytest.approx(1.0)
    assert d["tar_at_far"]["1e-03"] is None and "264 impostor" in d["tar_at_far_unreachable"]["1e-03"]
    # genuine template pairs score higher than every impostor pair on these colour-coded faces
    assert res.scores[res.labels].min() > res.scores[~res.labels].max()


def test_ijb_scores_match_a_hand_pipeline(tmp_path):
    """Scores from evaluate_ijb equal the protocol computed by hand from the same crops."""
    import torch

    from clusterface.evaluation.ijb import load_ijb_images
    from clusterface.models import normalize_images

    root = make_ijb(tmp_path / "IJBC", num_ids=4, loose_every=1000)  # all 112x112: no alignment
    meta = read_ijb_meta(root)
    model = MeanColour()
    res = evaluate_ijb(model, root, progress=False)
    x = normalize_images(torch.from_numpy(load_ijb_images(meta, root / "loose_crop", progress=False)))
    with torch.no_grad():
        f = (model(x) + model(torch.flip(x, dims=[3]))).numpy() * meta.detector_scores[:, None]
    tf, ids = _reference_template_features(f, meta.templates, meta.medias)
    lookup = {t: i for i, t in enumerate(ids)}
    expected = [tf[lookup[a]] @ tf[lookup[b]] for a, b in meta.pair_templates]
    np.testing.assert_allclose(res.scores, expected, atol=1e-5)


def test_aligned_loose_crop_matches_the_tight_crop(tmp_path):
    from clusterface.evaluation.ijb import load_ijb_images

    root = make_ijb(tmp_path / "IJBC", num_ids=2, loose_every=2)
    meta = read_ijb_meta(root)
    imgs = load_ijb_images(meta, root / "loose_crop", progress=False)
    assert imgs.shape == (len(meta.image_names), 3, 112, 112)
    # a 150x150 upscaled crop aligned back to 112 keeps its colours (inner region, away from borders)
    loose = [i for i, n in enumerate(meta.image_names) if int(n.split(".")[0]) % 2 == 0]
    tight = [i for i, n in enumerate(meta.image_names) if int(n.split(".")[0]) % 2 == 1]
    assert loose and tight
    for i in loose:
        inner = imgs[i][:, 10:100, 10:100].reshape(3, -1).mean(1)
        assert inner.min() > 5  # no black border pulled into the face region


@pytest.mark.parametrize("which", ["face_tid_mid", "template_pair_label", "name_5pts_score"])
def test_missing_meta_file_names_it(tmp_path, which):
    root = make_ijb(tmp_path / "IJBC", num_ids=2)
    (root / "meta" / f"ijbc_{which}.txt").unlink()
    with pytest.raises(IJBFormatError, match=f"ijbc_{which}.txt"):
        read_ijb_meta(root, "ijbc")


def test_malformed_meta_file_names_file_and_line(tmp_path):
    root = make_ijb(tmp_path / "IJBC", num_ids=2)
    path = root / "meta" / "ijbc_template_pair_label.txt"
    lines = path.read_text().splitlines()
    lines[2] = "1000 1001"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(IJBFormatError, match=r"ijbc_template_pair_label.txt:3: expected 3 columns"):
        read_ijb_meta(root)
    lines[2] = "1000 99999 0"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(IJBFormatError, match="template 99999"):
        read_ijb_meta(root)
    path = root / "meta" / "ijbc_name_5pts_score.txt"
    path.write_text(path.read_text().replace(" ", " x", 1))
    with pytest.raises(IJBFormatError, match="ijbc_name_5pts_score.txt"):
        read_ijb_meta(root)
