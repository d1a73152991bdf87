"""Splits, pairs, .bin, dataset and manifest of a generated SynthFaces set."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from clusterface.config.schema import SynthConfig
from clusterface.data import load_bin
from clusterface.data.decode import decode_image
from clusterface.synth import SynthFacesDataset, build_plan, folder_name, parse_pairs_text
from clusterface.synth.pairs import build_pairs


def test_layout_and_identity_disjoint_splits(tiny_set):
    cfg, paths = tiny_set
    train = {p.name for p in paths.train_dir.iterdir()}
    test = {p.name for p in paths.test_images_dir.iterdir()}
    assert train and test and not (train & test)
    assert len(train) + len(test) == cfg.identities
    assert paths.contact_sheet.stat().st_size > 1000
    manifest = json.loads(paths.manifest.read_text())
    assert manifest["train_identities"] == len(train) and manifest["test_identities"] == len(test)
    assert manifest["train_images"] == sum(1 for _ in paths.train_dir.rglob("*.jpg"))
    assert manifest["test_images"] == sum(1 for _ in paths.test_images_dir.rglob("*.jpg"))
    rows = list(csv.DictReader(paths.images_csv.open()))
    assert len(rows) == manifest["train_images"] + manifest["test_images"]
    true_train = {r["identity"] for r in rows if r["split"] == "train"}
    true_test = {r["identity"] for r in rows if r["split"] == "test"}
    assert not (true_train & true_test)  # label noise never leaks a test identity into train
    for r in rows:
        assert (paths.root / r["path"]).is_file()
        assert -60 <= float(r["yaw"]) <= 60


def test_pairs_file_and_bin_round_trip(tiny_set):
    _, paths = tiny_set
    folds, per_fold, pairs = parse_pairs_text(paths.pairs_path.read_text())
    manifest = json.loads(paths.manifest.read_text())
    assert folds == 10 and per_fold == manifest["pairs"]["pairs_per_fold"] >= 1
    assert manifest["pairs"]["scaled_down"] is (per_fold < 300)
    issame = []
    for f in range(folds):
        block = pairs[2 * per_fold * f : 2 * per_fold * (f + 1)]
        for k, (a, na, b, nb) in enumerate(block):
            same = k < per_fold  # LFW: genuine pairs first in each fold
            assert (a == b) is same
            assert (paths.test_images_dir / a / f"{na}.jpg").is_file()
            assert (paths.test_images_dir / b / f"{nb}.jpg").is_file()
            issame.append(same)
    keys = [(min((a, na), (b, nb)), max((a, na), (b, nb))) for a, na, b, nb in pairs]
    assert len(set(keys)) == len(keys)  # no pair twice
    vb = load_bin(paths.bin_path)
    assert vb.issame == issame
    for i, (a, na, b, nb) in enumerate(pairs[:40]):
        assert vb.images[2 * i] == (paths.test_images_dir / a / f"{na}.jpg").read_bytes()
        assert vb.images[2 * i + 1] == (paths.test_images_dir / b / f"{nb}.jpg").read_bytes()


def test_full_size_pairs_are_disjoint_folds_with_lookalike_impostors():
    cfg = SynthConfig(identities=400, seed=0, impostor_lookalike_fraction=0.3)
    plan = build_plan(cfg)
    pairs = build_pairs(plan, cfg.seed, cfg.impostor_lookalike_fraction)
    assert pairs.pairs_per_fold == 300 and len(pairs.pairs) == 6000
    assert pairs.folds_identity_disjoint
    fold_ids = []
    for f in range(10):
        block = pairs.pairs[600 * f : 600 * (f + 1)]
        assert all(p.same for p in block[:300]) and not any(p.same for p in block[300:])
        fold_ids.append({p.a[0] for p in block} | {p.b[0] for p in block})
    for i in range(10):
        for j in range(i + 1, 10):
            assert not (fold_ids[i] & fold_ids[j])
    assert 0.25 <= pairs.lookalike_impostors / 3000 <= 0.31
    look = sum(1 for p in pairs.pairs if not p.same and plan.parents[p.a[0]] == plan.parents[p.b[0]])
    assert look == pairs.lookalike_impostors


def test_on_the_fly_dataset_matches_disk(tiny_set):
    cfg, paths = tiny_set
    ds = SynthFacesDataset(cfg, split="train")
    folders = sorted(p.name for p in paths.train_dir.iterdir())
    assert ds.num_classes == len(folders)
    assert len(ds) == len(ds.labels) == sum(1 for _ in paths.train_dir.rglob("*.jpg"))
    for i in (0, len(ds) // 2, len(ds) - 1):
        img, label = ds[i]
        assert img.shape == (3, 112, 112) and str(img.dtype) == "torch.uint8"
        rec = ds.records[i]
        assert folders[label] == folder_name(rec.folder)
        disk = decode_image((paths.root / rec.relpath).read_bytes())
        np.testing.assert_array_equal(img.numpy().transpose(1, 2, 0), disk)
    test = SynthFacesDataset(cfg, split="test")
    assert test.num_classes == len(list(paths.test_images_dir.iterdir()))
    with pytest.raises(ValueError):
        SynthFacesDataset(cfg, split="val")


@pytest.mark.parametrize(("identities", "median"), [(100, 6), (100, 20), (200, 4)])
def test_mid_size_sets_get_pairs_in_every_fold(identities, median):
    """20 test identities in families used to leave a fold with one identity and no impostors."""
    cfg = SynthConfig(identities=identities, images_median=median, seed=0)
    plan = build_plan(cfg)
    pairs = build_pairs(plan, cfg.seed, cfg.impostor_lookalike_fraction)
    per = pairs.pairs_per_fold
    assert per >= 1 and len(pairs.pairs) == 20 * per
    for f in range(10):
        block = pairs.pairs[2 * per * f : 2 * per * (f + 1)]
        assert sum(p.same for p in block) == per
        assert all(p.a[0] != p.b[0] for p in block[per:])
