"""Reports and plots from arrays: single-model report pieces and the side-by-side comparison."""

import json

import numpy as np
import pytest

from clusterface.analysis import (
    ModelEvaluation,
    class_dispersion,
    hardest_identities,
    write_comparison_report,
)
from clusterface.analysis.report import markdown_to_html
from clusterface.evaluation import evaluate_pairs


def _pairs(seed, sep):
    rng = np.random.default_rng(seed)
    n = 600
    same = np.tile([True, False], n // 2)
    a = rng.normal(size=(n, 32))
    b = np.where(same[:, None], a + rng.normal(scale=1.0 / sep, size=(n, 32)), rng.normal(size=(n, 32)))
    feats = np.empty((2 * n, 32), dtype=np.float32)
    feats[0::2], feats[1::2] = a, b
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    return evaluate_pairs(feats, same, name="toy")


def test_comparison_report_side_by_side(tmp_path):
    strong = ModelEvaluation("full", bins=[_pairs(0, 3.0)])
    weak = ModelEvaluation("arcface", bins=[_pairs(1, 0.8)])
    files = write_comparison_report({"arcface": weak, "full": strong, "metrics-only": weak.metrics()}, tmp_path)
    md = files["report"].read_text()
    assert "| arcface | toy |" in md and "| full | toy |" in md and "| metrics-only | toy |" in md
    assert files["roc_toy"].stat().st_size > 1000 and files["hist_toy"].stat().st_size > 1000
    data = json.loads(files["metrics"].read_text())
    assert data["full"]["verification"]["toy"]["accuracy"] > data["arcface"]["verification"]["toy"]["accuracy"]
    html = files["html"].read_text()
    assert html.count("data:image/png;base64,") == 2 and "<table>" in html


def test_class_dispersion_rms_formula():
    # class 0: two orthogonal unit vectors -> resultant length 1/√2 -> φ = sqrt(2(1 − 1/√2)) / log(2 + α)
    feats = np.array([[1.0, 0], [0, 1.0], [1.0, 0], [1.0, 0], [1.0, 0]])
    ids, phi, counts = class_dispersion(feats, np.array([0, 0, 1, 1, 1]), alpha=10.0)
    np.testing.assert_array_equal(ids, [0, 1])
    np.testing.assert_array_equal(counts, [2, 3])
    assert phi[0] == pytest.approx(np.sqrt(2 * (1 - 2**-0.5)) / np.log(12))
    assert phi[1] == pytest.approx(0.0, abs=1e-7)
    hard = hardest_identities(phi, ["a", "b"], n=1, counts=counts)
    assert hard == [{"identity": "a", "phi": pytest.approx(phi[0]), "images": 2}]


def test_markdown_to_html_escapes_and_inlines(tmp_path):
    (tmp_path / "p.png").write_bytes(b"\x89PNG fake")
    html = markdown_to_html("# T <x>\n\n| a | b |\n|---|---|\n| 1 | <2> |\n\n![alt](p.png)\n", tmp_path, "t")
    assert "<h1>T &lt;x&gt;</h1>" in html and "<td>&lt;2&gt;</td>" in html
    assert "data:image/png;base64," in html
