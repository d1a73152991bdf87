"""`clusterface ablate` end to end on tiny data: report, cache, resume after a kill between and inside cells."""

import json
from pathlib import Path

import pytest
import torch

import clusterface.training
from clusterface.cli import main
from clusterface.training.step import TrainStep

ROOT = Path(__file__).resolve().parents[2]
ROWS = [ROOT / "configs" / "ablations" / "1_arcface.yaml", ROOT / "configs" / "ablations" / "6_full.yaml"]
# 40 identities (30 train, ~200 images), 12 steps per epoch at batch 16; 8 steps pass the 0.5-epoch
# warm-up, so the full row differs from ArcFace; a checkpoint every 3 steps for the mid-cell resume.
TINY = [
    "synth.identities=40",
    "synth.images_median=6",
    "synth.images_max=10",
    "synth.workers=0",
    "data.workers=0",
    "schedule.batch_size=16",
    "schedule.max_steps=8",
    "checkpoint.every_steps=3",
    "logging.every_steps=2",
    "memory.update_every_steps=4",
    "model.embedding_dim=64",
]


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so the study does not catch it as a failed cell."""


def _ablate(tmp_path, study, *extra):
    return main(
        [
            "ablate",
            "--quick",
            "--study-dir",
            str(tmp_path / study),
            "--data-root",
            str(tmp_path / "data"),
            *(a for r in ROWS for a in ("--rows", str(r))),
            "--seeds",
            "0,1",
            *extra,
            *TINY,
        ]
    )


def _tables(tmp_path, study):
    summary = json.loads((tmp_path / study / "ablation.json").read_text())
    return {
        row: {k: v["per_seed"] for k, v in r["metrics"].items()} | {"paired": r["paired"]}
        for row, r in summary["datasets"]["default"]["rows"].items()
    }


@pytest.fixture
def count_training(monkeypatch):
    """Counts train() calls and optimiser steps; optionally raises Killed after a given step."""
    state = {"calls": 0, "steps": 0, "kill_at": None}
    real_train, real_step = clusterface.training.train, TrainStep.__call__

    def train(*args, **kwargs):
        state["calls"] += 1
        return real_train(*args, **kwargs)

    def step(self, *args, **kwargs):
        state["steps"] += 1
        if state["kill_at"] is not None and state["steps"] == state["kill_at"]:
            raise Killed
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(clusterface.training, "train", train)
    monkeypatch.setattr(TrainStep, "__call__", step)
    return state


@pytest.mark.slow
def test_quick_study_end_to_end_then_cached(tmp_path, count_training):
    pytest.importorskip("infomap")
    torch.set_num_threads(1)
    bad = tmp_path / "9_bad.yaml"  # a valid config whose training cannot start: reported, the others go on
    bad.write_text("model: {backbone: no_such_net}\n")
    code = _ablate(tmp_path, "study", "--rows", str(bad))
    assert code == 1  # one failed cell
    assert count_training["calls"] == 6 and count_training["steps"] == 4 * 8
    study = tmp_path / "study"
    for name in ("ablation.md", "ablation.html", "ablation.json", "default_bars.png", "default_curves.png"):
        assert (study / name).is_file(), name
    records = sorted((study / "results" / "default").glob("*/seed*.json"))
    assert [p.relative_to(study / "results" / "default").as_posix() for p in records] == [
        "1_arcface/seed0.json",
        "1_arcface/seed1.json",
        "6_full/seed0.json",
        "6_full/seed1.json",
    ]
    rec = json.loads(records[2].read_text())
    assert rec["steps"] == 8 and rec["reproduce"].startswith("clusterface ablate --rows")
    assert set(rec["clustering"]["methods"]) == {"infomap", "kmeans"}
    # margins vs concentration of the full row: one (φ, m) per class seen so far
    assert 0 < len(rec["memory"]["phi"]) == len(rec["memory"]["margin"]) <= rec["num_train_classes"]
    assert rec["learning_curve"]["history"]
    errors = list(study.glob("cells/*/error.txt"))
    assert len(errors) == 2 and "no_such_net" in errors[0].read_text()
    md = (study / "ablation.md").read_text()
    assert "| 6_full |" in md and "better" not in md
    tables = _tables(tmp_path, "study")
    assert tables["1_arcface"]["accuracy"] != tables["6_full"]["accuracy"]  # the rows did differ

    # the same command again: nothing is retrained (only the failing cells are retried) and the table is the same
    count_training.update(calls=0, steps=0)
    assert _ablate(tmp_path, "study", "--rows", str(bad)) == 1
    assert count_training["calls"] == 2 and count_training["steps"] == 0
    assert _tables(tmp_path, "study") == tables

    # --report-only rebuilds the same tables from the records alone
    (study / "ablation.md").unlink()
    assert main(["ablate", "--report-only", "--study-dir", str(study), "--results-dir", str(study / "results")]) == 0
    assert (study / "ablation.md").read_text() == md

    # a fresh checkout has the committed records but no study directory: they count as finished cells,
    # except a record whose key is not the cell's (another config), which is recomputed and replaced
    import shutil

    shutil.rmtree(study / "cells")
    stale = study / "results" / "default" / "6_full" / "seed1.json"
    stale.write_text(json.dumps(json.loads(stale.read_text()) | {"key": "0" * 16}))
    count_training.update(calls=0, steps=0)
    assert _ablate(tmp_path, "study", "--rows", str(bad)) == 1
    assert count_training["calls"] == 3 and count_training["steps"] == 8
    assert json.loads(stale.read_text())["key"] != "0" * 16
    assert _tables(tmp_path, "study") == tables


@pytest.mark.slow
def test_study_killed_between_and_inside_cells_resumes(tmp_path, count_training):
    pytest.importorskip("infomap")
    torch.set_num_threads(1)
    assert _ablate(tmp_path, "reference") == 0
    reference = _tables(tmp_path, "reference")

    # killed inside the second cell (6_full seed 0; cells run seed by seed) at its 5th step: the first
    # cell is finished, the second has its checkpoint of step 3
    count_training.update(calls=0, steps=0, kill_at=8 + 5)
    with pytest.raises(Killed):
        _ablate(tmp_path, "killed")
    finished = sorted((tmp_path / "killed" / "cells").glob("*/result.json"))
    assert len(finished) == 1
    # rerun: the finished cell is not retrained, the second resumes at step 3, the other two run
    count_training.update(calls=0, steps=0, kill_at=None)
    assert _ablate(tmp_path, "killed") == 0
    assert count_training["calls"] == 3
    assert count_training["steps"] == (8 - 3) + 8 + 8
    assert _tables(tmp_path, "killed") == reference
