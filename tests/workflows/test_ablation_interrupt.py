"""Ctrl-C outside a cell's training (e.g. during its evaluation) stops the study cleanly, with the way back."""

from pathlib import Path

import pytest

from clusterface.workflows import ablation

ROOT = Path(__file__).resolve().parents[2]


def test_ctrl_c_during_evaluation_is_a_clean_stop(tmp_path, monkeypatch):
    cells = ablation.plan_study(
        ablation.load_rows([ROOT / "configs" / "ablations" / "1_arcface.yaml"]),
        [0],
        [ablation.parse_dataset("default")],
        data_root=tmp_path / "data",
        study_dir=tmp_path / "study",
    )
    evaluated = []

    def evaluate(cell, checkpoint):
        evaluated.append(cell.label)
        raise KeyboardInterrupt

    monkeypatch.setattr(ablation, "_prepare_datasets", lambda cells, say: None)
    monkeypatch.setattr(ablation, "_train_cell", lambda cell, run_dir, progress: (None, None, run_dir / "last.pt"))
    monkeypatch.setattr(ablation, "_evaluate_cell", evaluate)
    with pytest.raises(ablation.StudyInterrupted, match="default/1_arcface/seed0: stopped; rerun the same command"):
        ablation.run_study(cells, tmp_path / "study", tmp_path / "results", progress=False)
    assert evaluated == ["default/1_arcface/seed0"]
    assert not list((tmp_path / "study").glob("cells/*/result.json"))  # not recorded as finished
    assert not list((tmp_path / "study").glob("cells/*/error.txt"))  # nor as failed
