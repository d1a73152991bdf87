"""SynthFaces' validation split (synth.val_fraction): disjoint identities, its own pairs/.bin, no change at 0."""

from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pytest
from synth_cases import tiny_config

from clusterface.config import load_config
from clusterface.config.schema import SynthConfig
from clusterface.data import load_bin
from clusterface.data.decode import decode_image
from clusterface.synth import SynthFacesDataset, build_plan, generate_dataset, parse_pairs_text
from clusterface.synth.pairs import build_pairs, pairs_text
from clusterface.synth.writer import params_hash
from clusterface.training import verification_bin_path


def _plan_digest(cfg: SynthConfig) -> str:
    plan = build_plan(cfg)
    h = hashlib.sha256()
    h.update(plan.train_ids.tobytes())
    h.update(plan.test_ids.tobytes())
    h.update(repr([(r.split, r.folder, r.number, r.identity, r.image) for r in plan.train + plan.test]).encode())
    h.update(pairs_text(build_pairs(plan, cfg.seed, cfg.impostor_lookalike_fraction)).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize(
    ("kw", "params", "plan"),
    [
        # digests computed with the code before synth.val_fraction existed (commit 371224d)
        (dict(identities=360, test_fraction=0.25, seed=0), "a95e30228f8fa422", "45cbdb1a802589b4"),
        (dict(identities=200, seed=5, label_noise=0.05, preset="hard"), "f1c8ae514b58ccdd", "e51567e8ae92455b"),
    ],
)
def test_default_zero_leaves_hash_plan_and_pairs_unchanged(kw, params, plan):
    cfg = SynthConfig(**kw)
    assert cfg.val_fraction == 0
    assert params_hash(cfg) == params  # existing data sets (the demo's included) stay valid caches
    assert _plan_digest(cfg) == plan
    assert len(build_plan(cfg).val_ids) == 0 and build_plan(cfg).val == ()


@pytest.mark.parametrize("seed", [0, 1])
def test_validation_identities_are_disjoint_whole_families_and_leave_test_alone(seed):
    base = SynthConfig(identities=600, seed=seed, label_noise=0.05)
    cfg = base.model_copy(update={"val_fraction": 0.1})
    plan, old = build_plan(cfg), build_plan(base)
    train, val, test = (set(plan.split_ids(s).tolist()) for s in ("train", "val", "test"))
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val | test == set(range(600))
    np.testing.assert_array_equal(plan.test_ids, old.test_ids)  # test identities do not depend on val_fraction
    assert 60 <= len(val) <= 66  # whole look-alike families: at most a family over the target
    families = {int(plan.parents[i]) for i in val}
    assert all(int(plan.parents[i]) not in families for i in train | test)  # no family split across splits
    # label noise only moves images between train identities: no val/test identity is ever a train label
    assert {r.identity for r in plan.train} <= train and {r.folder for r in plan.train} <= train
    assert [(r.identity, r.image) for r in plan.val] == [(i, j) for i in sorted(val) for j in range(plan.counts[i])]
    # deterministic, and its pairs are its own
    again = build_plan(cfg)
    np.testing.assert_array_equal(again.val_ids, plan.val_ids)
    pairs = build_pairs(plan, cfg.seed, cfg.impostor_lookalike_fraction, "val")
    assert pairs_text(pairs) == pairs_text(build_pairs(again, cfg.seed, cfg.impostor_lookalike_fraction, "val"))
    assert {p.a[0] for p in pairs.pairs} | {p.b[0] for p in pairs.pairs} <= val
    assert len(pairs.pairs) == 20 * pairs.pairs_per_fold and pairs.pairs_per_fold >= 100
    test_pairs = build_pairs(plan, cfg.seed, cfg.impostor_lookalike_fraction)
    assert pairs_text(test_pairs) == pairs_text(build_pairs(old, cfg.seed, cfg.impostor_lookalike_fraction))


def test_too_large_fractions_fail_clearly():
    with pytest.raises(ValueError, match="val_fraction"):
        build_plan(SynthConfig(identities=10, test_fraction=0.5, val_fraction=0.5))


def test_written_validation_split(tmp_path):
    cfg = tiny_config(tmp_path / "v", identities=24, test_fraction=0.25, val_fraction=0.25)
    paths = generate_dataset(cfg, progress=False)
    manifest = json.loads(paths.manifest.read_text())
    train = {p.name for p in paths.train_dir.iterdir()}
    test = {p.name for p in paths.test_images_dir.iterdir()}
    val = {p.name for p in paths.val_images_dir.iterdir()}
    assert train and test and val and not (train & val) and not (test & val) and not (train & test)
    assert manifest["val_identities"] == len(val) and manifest["params"]["val_fraction"] == 0.25
    assert manifest["val_images"] == sum(1 for _ in paths.val_images_dir.rglob("*.jpg"))
    rows = list(csv.DictReader(paths.images_csv.open()))
    assert sum(r["split"] == "val" for r in rows) == manifest["val_images"]
    # pairs.txt and .bin like the test split's, over the validation images
    folds, per_fold, pairs = parse_pairs_text(paths.val_pairs_path.read_text())
    assert folds == 10 and per_fold == manifest["val_pairs"]["pairs_per_fold"] >= 1
    vb = load_bin(paths.val_bin_path)
    assert len(vb.issame) == len(pairs) and vb.issame == [a == b for a, _, b, _ in pairs]
    for i, (a, na, b, nb) in enumerate(pairs[:20]):
        assert a in val and b in val
        assert vb.images[2 * i] == (paths.val_images_dir / a / f"{na}.jpg").read_bytes()
        assert vb.images[2 * i + 1] == (paths.val_images_dir / b / f"{nb}.jpg").read_bytes()
    # the on-the-fly dataset renders the same validation images
    ds = SynthFacesDataset(cfg, split="val")
    assert ds.num_classes == len(val)
    img, _ = ds[len(ds) - 1]
    disk = decode_image((paths.root / ds.records[-1].relpath).read_bytes())
    np.testing.assert_array_equal(img.numpy().transpose(1, 2, 0), disk)
    # a second call is a cache hit (nothing rewritten)
    before = paths.val_bin_path.stat().st_mtime_ns
    generate_dataset(cfg, progress=False)
    assert paths.val_bin_path.stat().st_mtime_ns == before
    # training and evaluation code find it: periodic verification on val by default, test on request
    tcfg = load_config(None, [f"synth.root={cfg.root}", "synth.val_fraction=0.25", "data.source=synth-disk"])
    assert verification_bin_path(tcfg) == paths.val_bin_path
    assert verification_bin_path(tcfg, "test") == paths.bin_path
    no_val = load_config(None, [f"synth.root={cfg.root}", "data.source=synth-disk"])
    assert verification_bin_path(no_val) == paths.bin_path
    with pytest.raises(ValueError, match="val_fraction"):
        SynthFacesDataset(tiny_config(tmp_path / "none"), split="val")
