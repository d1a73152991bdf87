"""`clusterface train` smoke run through main(argv) on a tiny image folder."""

from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image
from training_standins import TINY_BACKBONE

from clusterface.cli import main
from clusterface.training import load_backbone


def _image_folder(root, identities=4, per_identity=4):
    rng = np.random.default_rng(0)
    for k in range(identities):
        d = root / f"id{k:02d}"
        d.mkdir(parents=True)
        for i in range(per_identity):
            Image.fromarray(rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)).save(d / f"{i}.jpg")


def test_train_command_writes_run_directory(tmp_path):
    _image_folder(tmp_path / "faces")
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--config",
            "configs/full.yaml",
            "--out",
            str(out),
            "--no-progress",
            "data.source=folder",
            f"data.path={tmp_path / 'faces'}",
            "data.workers=1",
            f"model.backbone={TINY_BACKBONE}",
            "model.embedding_dim=16",
            "schedule.batch_size=4",
            "schedule.epochs=2",
            "eval.every_epochs=0",
            "objective.warmup_epochs=0.5",
        ]
    )
    assert code == 0
    assert (out / "config.yaml").is_file()
    assert (out / "checkpoints" / "last.pt").is_file()
    assert any((out / "tb").iterdir())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["summary"]["status"] == "completed" and metrics["summary"]["global_step"] == 8
    model, cfg = load_backbone(out / "checkpoints" / "last.pt")
    assert cfg.model.backbone == TINY_BACKBONE and cfg.margin.kind == "cluster_guided"
    assert torch.isfinite(model(torch.zeros(1, 3, 112, 112))).all()


def test_train_command_rejects_bad_override(tmp_path):
    assert main(["train", "--out", str(tmp_path), "optim.no_such_field=1"]) == 2


def test_train_command_refuses_to_resume_an_incompatible_run(tmp_path, capsys):
    _image_folder(tmp_path / "faces")
    common = [
        "train",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
        "data.source=folder",
        f"data.path={tmp_path / 'faces'}",
        "data.workers=0",
        f"model.backbone={TINY_BACKBONE}",
        "model.embedding_dim=16",
        "schedule.epochs=1",
        "eval.every_epochs=0",
    ]
    assert main([*common, "schedule.batch_size=4"]) == 0
    assert main([*common, "schedule.batch_size=8"]) == 2
    assert "cannot resume" in capsys.readouterr().err


def test_train_command_exit_2_only_for_config_errors(tmp_path, monkeypatch):
    """A config error is exit code 2 with a message; any other error is a bug and keeps its traceback."""
    import pytest

    import clusterface.training as training

    _image_folder(tmp_path / "faces")
    common = ["train", "--out", str(tmp_path / "run"), "--no-progress", "data.workers=0"]
    common += [f"model.backbone={TINY_BACKBONE}", "model.embedding_dim=16", "schedule.batch_size=4"]
    assert main([*common, "data.source=folder"]) == 2  # folder without data.path: a config error

    def broken_train(*args, **kwargs):
        raise ValueError("a bug inside training")

    monkeypatch.setattr(training, "train", broken_train)
    with pytest.raises(ValueError, match="a bug inside training"):
        main([*common, "data.source=folder", f"data.path={tmp_path / 'faces'}"])
