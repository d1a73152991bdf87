"""Threshold calibration: the operating point against a reference, the intervals, where results are stored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from export_helpers import make_bin

import clusterface
from clusterface.cli import main
from clusterface.export import calibrate_scores, clopper_pearson, read_onnx_metadata
from clusterface.inference import calibration_path


def _scores(n_imp: int = 20000, n_gen: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.normal(0.6, 0.12, n_gen), rng.normal(0.0, 0.1, n_imp)])
    return scores, np.r_[np.ones(n_gen, bool), np.zeros(n_imp, bool)]


@pytest.mark.parametrize("far", [1e-2, 1e-3, 1e-4])
def test_threshold_is_the_lowest_score_above_the_k_plus_first_impostor(far):
    scores, same = _scores()
    thresholds, skipped = calibrate_scores(scores, same, [far], n_boot=200)
    (t,) = thresholds.values()
    assert skipped == {}
    imp = np.sort(scores[~same])[::-1]
    k = int(np.floor(far * imp.size))
    boundary = imp[k]  # the (k+1)-th highest impostor score: accepting it would exceed the target
    assert t.threshold == np.min(scores[scores > boundary])
    assert t.impostors_accepted == int((imp >= t.threshold).sum()) == k
    assert t.achieved_far == pytest.approx(k / imp.size)
    assert t.tar == pytest.approx(np.mean(scores[same] >= t.threshold))
    assert t.num_impostor == 20000 and t.num_genuine == 2000
    assert t.ci_low <= boundary <= t.ci_high and t.ci_low < t.ci_high


def test_unreachable_far_is_skipped_with_the_reason():
    scores, same = _scores(n_imp=500)
    thresholds, skipped = calibrate_scores(scores, same, [1e-2, 1e-3])
    assert list(thresholds) == ["1e-02"]
    assert skipped["1e-03"] == "only 500 impostor pairs; FAR=0.001 needs at least 1000"


def test_bootstrap_interval_narrows_with_more_impostors():
    wide = calibrate_scores(*_scores(n_imp=2000), [1e-2], n_boot=300)[0]["1e-02"]
    narrow = calibrate_scores(*_scores(n_imp=50000), [1e-2], n_boot=300)[0]["1e-02"]
    assert narrow.ci_high - narrow.ci_low < 0.6 * (wide.ci_high - wide.ci_low)


def test_clopper_pearson_matches_scipy_and_closed_forms():
    from scipy.stats import binomtest

    for x, n in [(5, 1000), (1, 20000), (37, 400)]:
        ci = binomtest(x, n).proportion_ci(confidence_level=0.95, method="exact")
        assert clopper_pearson(x, n) == pytest.approx((ci.low, ci.high), rel=1e-9)
    # x = 0: the upper bound solves (1 - p)^n = 0.025
    assert clopper_pearson(0, 3000) == pytest.approx((0.0, 1 - 0.025 ** (1 / 3000)), rel=1e-9)


def test_calibrate_cli_export_folder_in_place_and_foreign_onnx_beside(exported: Path, tmp_path: Path, capsys):
    pairs = make_bin(tmp_path / "cal.bin", n_pairs=200)
    folder = tmp_path / "m"
    shutil.copytree(exported, folder)
    assert main(["calibrate", str(folder), "--bin", str(pairs), "--far", "1e-2", "--far", "1e-3"]) == 0
    out = capsys.readouterr().out
    assert "FAR 1e-02: cos >=" in out and "FAR 1e-03: not calibrated" in out
    onnx_t = read_onnx_metadata(folder / "model.onnx").thresholds["1e-02"]
    json_t = json.loads((folder / "model.json").read_text())["metadata"]["thresholds"]["1e-02"]
    assert json_t["threshold"] == onnx_t.threshold
    assert clusterface.load(folder, backend="torch").threshold(1e-2).threshold == onnx_t.threshold
    # a lone ONNX file is not rewritten: the thresholds go beside it, and load() finds them
    lone = tmp_path / "other.onnx"
    shutil.copy(exported / "model.onnx", lone)
    before = lone.read_bytes()
    assert main(["calibrate", str(lone), "--bin", str(pairs), "--far", "1e-2"]) == 0
    assert lone.read_bytes() == before and calibration_path(lone).is_file()
    assert clusterface.load(lone).threshold(1e-2).threshold == pytest.approx(onnx_t.threshold, abs=1e-5)


def test_calibrate_cli_needs_one_pair_source(exported: Path, capsys):
    assert main(["calibrate", str(exported)]) != 0
