"""`clusterface export` and `clusterface calibrate` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from export_helpers import make_bin

from clusterface.cli import main
from clusterface.export import read_onnx_metadata


def test_export_cli_with_calibration(checkpoint: Path, tmp_path: Path, capsys):
    pairs = make_bin(tmp_path / "cal.bin", n_pairs=200)
    out = tmp_path / "exp"
    args = ["export", str(checkpoint), "--out", str(out), "--calibrate", str(pairs), "--far", "1e-2", "--far", "1e-3"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "parity: max |ONNX - torch|" in text and "opset 17" in text
    meta = read_onnx_metadata(out / "model.onnx")
    # 100 impostor pairs: 1e-2 is reachable, 1e-3 is not and is said so
    assert sorted(meta.thresholds) == ["1e-02"]
    assert "FAR 1e-03: not calibrated (only 100 impostor pairs" in text
    t = meta.thresholds["1e-02"]
    assert t.num_impostor == 100 and t.impostors_accepted <= 1
    assert json.loads((out / "model.json").read_text())["metadata"]["thresholds"]["1e-02"]["threshold"] == t.threshold


def test_export_cli_bad_checkpoint_is_a_clear_error(tmp_path: Path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["export", str(bad), "--out", str(tmp_path / "o")]) == 1
    assert "bad.pt" in capsys.readouterr().err


def test_evaluate_reads_the_flip_test_from_the_metadata(checkpoint: Path, exported: Path, tmp_path: Path):
    """An export whose metadata says no flip test scores as the checkpoint with --no-flip, with no option given."""
    import shutil

    from clusterface.export import update_onnx_metadata

    pairs = make_bin(tmp_path / "v.bin", n_pairs=40)
    folder = tmp_path / "noflip"
    shutil.copytree(exported, folder)
    meta = read_onnx_metadata(folder / "model.onnx")
    meta.flip = False
    update_onnx_metadata(folder / "model.onnx", meta)
    runs = {
        "export": [str(folder)],
        "checkpoint": [str(checkpoint), "--no-flip"],
    }
    scores = {}
    for name, args in runs.items():
        assert main(["evaluate", *args, "--bin", str(pairs), "--out", str(tmp_path / name)]) == 0
        scores[name] = json.loads((tmp_path / name / "metrics.json").read_text())["verification"]["v"]
    assert scores["export"]["best_threshold"] == scores["checkpoint"]["best_threshold"]
    assert scores["export"]["accuracy"] == scores["checkpoint"]["accuracy"]
