"""`clusterface ablate --split val`: cells evaluated on SynthFaces' validation split, never on the test split."""

from pathlib import Path

import pytest

from clusterface.config import ConfigError
from clusterface.workflows.ablation import _eval_sets, load_rows, parse_dataset, plan_study

ROOT = Path(__file__).resolve().parents[2]
ROWS = [ROOT / "configs" / "ablations" / "1_arcface.yaml", ROOT / "configs" / "ablations" / "6_full.yaml"]


def _plan(tmp_path, split, *overrides):
    return plan_study(
        load_rows(ROWS),
        [0],
        [parse_dataset("default")],
        overrides=list(overrides),
        data_root=tmp_path / "data",
        study_dir=tmp_path / "study",
        split=split,
    )


def test_val_cells_have_their_own_keys_and_reproduce_commands(tmp_path):
    test_cells, val_cells = _plan(tmp_path, "test"), _plan(tmp_path, "val")
    assert [c.split for c in val_cells] == ["val", "val"]
    assert {c.key for c in test_cells}.isdisjoint(c.key for c in val_cells)
    assert all("--split val" in c.reproduce for c in val_cells)
    assert not any("--split" in c.reproduce for c in test_cells)
    # the same training config (the run directory is named by the key): only the evaluation split differs
    for t, v in zip(test_cells, val_cells, strict=True):
        assert t.config.model_copy(update={"runtime": v.config.runtime}) == v.config
        assert t.config.runtime.out_dir != v.config.runtime.out_dir


def test_val_cells_evaluate_on_the_validation_split(tmp_path):
    cell = _plan(tmp_path, "val")[0]
    root = Path(cell.config.synth.root)
    with pytest.raises(FileNotFoundError, match="no validation split"):
        _eval_sets(cell)
    (root / "val" / "images").mkdir(parents=True)
    (root / "val" / "verification.bin").write_bytes(b"")
    bin_path, faces, periodic = _eval_sets(cell)
    assert bin_path == periodic == root / "val" / "verification.bin"
    assert faces == root / "val" / "images"
    assert "test" not in bin_path.parts and "test" not in faces.parts


def test_val_split_needs_a_validation_split(tmp_path):
    with pytest.raises(ConfigError, match="val_fraction"):
        _plan(tmp_path, "val", "synth.val_fraction=0")
    with pytest.raises(ConfigError, match="split must be one of"):
        _plan(tmp_path, "train")
