"""`clusterface evaluate` and `clusterface cluster` through main(argv), with a real checkpoint."""

import csv
import json

import numpy as np
import pytest
import torch
from eval_helpers import make_ijb, write_colour_bin, write_image_folder
from torch import nn

from clusterface.cli import main
from clusterface.config import Config, config_to_dict
from clusterface.models import create_backbone, list_backbones, registry
from clusterface.training import save_checkpoint

TEST_BACKBONE = "test_quadrant_colour_eval"


class QuadrantColourNet(nn.Module):
    """Test-only backbone: mean colour of each image quadrant (12 numbers) times a learnable scale."""

    def __init__(self, embedding_dim: int = 12, dropout: float = 0.0) -> None:
        super().__init__()
        assert embedding_dim == 12
        self.scale = nn.Parameter(torch.ones(12))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        return x.reshape(b, c, 2, h // 2, 2, w // 2).mean(dim=(3, 5)).reshape(b, 12) * self.scale


@pytest.fixture(autouse=True)
def _test_backbone(monkeypatch):
    """Register the test-only backbone for the duration of each test (never visible to other test
    modules, e.g. the backbone contract test parametrised over every registered name)."""
    monkeypatch.setitem(registry._REGISTRY, TEST_BACKBONE, QuadrantColourNet)
    assert TEST_BACKBONE in list_backbones()


def _checkpoint(path, scale=1.0, memory=False):
    cfg = Config()
    cfg.model.backbone = TEST_BACKBONE
    cfg.model.embedding_dim = 12
    model = create_backbone(cfg.model.backbone, embedding_dim=cfg.model.embedding_dim, dropout=cfg.model.dropout)
    with torch.no_grad():
        model.scale.fill_(scale)
    state = {"config": config_to_dict(cfg), "backbone": model.state_dict()}
    if memory:
        phi = torch.linspace(0.1, 0.5, 30)
        state["objective"] = {
            "memory.concentration": phi,
            "memory.has_concentration": torch.ones(30, dtype=torch.bool),
            "memory.margins": 0.4 + 0.2 * (phi - 0.1) / 0.4,
        }
    return save_checkpoint(state, path)


@pytest.fixture
def eval_data(tmp_path):
    ckpt = _checkpoint(tmp_path / "model.pt", memory=True)
    bin_path = write_colour_bin(tmp_path / "colour.bin")
    folder, labels = write_image_folder(tmp_path / "faces")
    ijb = make_ijb(tmp_path / "IJBB", name="ijbb", num_ids=4)
    return tmp_path, ckpt, bin_path, folder, labels, ijb


@pytest.mark.slow  # the whole pipeline with t-SNE: ~10 s on a quiet machine
def test_evaluate_writes_metrics_report_and_plots(eval_data, capsys):
    tmp, ckpt, bin_path, folder, labels, ijb = eval_data
    out = tmp / "eval"
    argv = [
        "evaluate",
        str(ckpt),
        "--bin",
        str(bin_path),
        "--ijb",
        str(ijb),
        "--cluster",
        str(folder),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert "colour: accuracy" in capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    v = m["verification"]["colour"]
    assert v["num_pairs"] == 100 and 0.9 <= v["accuracy"] <= 1.0
    assert m["ijb"]["name"] == "ijbb" and m["ijb"]["num_templates"] == 8
    methods = m["clustering"]["methods"]
    assert set(methods) == {"infomap", "components", "dbscan", "agglomerative", "kmeans"}
    assert methods["kmeans"]["num_clusters"] == 8
    assert all(0 <= d["scores"]["pairwise_fscore"] <= 1 for d in methods.values())
    assert m["clustering"]["threshold_source"].startswith("colour")
    assert (out / "cluster_features.npz").is_file()
    assert len(m["hardest_identities"]) == 8 and m["memory"]["classes"] == 30
    for png in ("similarity_histograms", "roc", "clustering", "dispersion", "embedding_map", "concentration_vs_margin"):
        assert (out / f"{png}.png").stat().st_size > 1000, png
    report = (out / "report.md").read_text()
    assert "## Verification" in report and "## Face clustering" in report and "IJB" in report
    assert "data:image/png;base64," in (out / "report.html").read_text()
    rows = list(csv.reader((out / "assignments.csv").open()))
    assert rows[0][0] == "item" and rows[0][-1] == "label" and len(rows) == 1 + len(labels)


def test_evaluate_degenerate_model_fails_cleanly(eval_data, capsys):
    tmp, _, bin_path, *_ = eval_data
    ckpt = _checkpoint(tmp / "dead.pt", scale=0.0)
    assert main(["evaluate", str(ckpt), "--bin", str(bin_path), "--out", str(tmp / "x")]) == 1
    assert "identical" in capsys.readouterr().err


def test_evaluate_needs_something_to_evaluate(eval_data):
    tmp, ckpt, *_ = eval_data
    assert main(["evaluate", str(ckpt), "--out", str(tmp / "x")]) != 0


def test_cluster_labelled_folder(eval_data, capsys):
    tmp, ckpt, _, folder, labels, _ = eval_data
    out = tmp / "cl"
    assert main(["cluster", str(folder), "--model", str(ckpt), "--method", "components", "--out", str(out)]) == 0
    assert "pairwise P/R/F" in capsys.readouterr().out
    rows = list(csv.reader((out / "assignments.csv").open()))
    assert rows[0] == ["item", "components", "label"] and len(rows) == 1 + len(labels)
    assert rows[1][0].startswith("id000/")
    info = json.loads((out / "clustering.json").read_text())
    assert "scores" in info["methods"]["components"]


def test_cluster_features_file_and_unlabelled(tmp_path, capsys):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 16))
    labels = np.repeat(np.arange(5), 10)
    feats = centres[labels] + 0.05 * rng.normal(size=(50, 16))
    np.savez(tmp_path / "f.npz", features=feats, labels=labels)
    assert main(["cluster", str(tmp_path / "f.npz"), "--method", "kmeans", "--out", str(tmp_path / "a")]) == 0
    info = json.loads((tmp_path / "a" / "clustering.json").read_text())
    assert info["methods"]["kmeans"]["scores"]["pairwise_fscore"] == pytest.approx(1.0)
    np.save(tmp_path / "g.npy", feats)
    assert main(["cluster", str(tmp_path / "g.npy"), "--method", "infomap", "--out", str(tmp_path / "b")]) == 0
    rows = list(csv.reader((tmp_path / "b" / "assignments.csv").open()))
    assert rows[0] == ["item", "infomap"] and len(rows) == 51
    assert len({r[1] for r in rows[1:]}) == 5
    # k-means on an unlabelled set without K
    assert main(["cluster", str(tmp_path / "g.npy"), "--method", "kmeans", "--out", str(tmp_path / "c")]) == 1
    assert main(["cluster", str(tmp_path / "g.npy"), "--method", "spectral", "--out", str(tmp_path / "c")]) != 0
