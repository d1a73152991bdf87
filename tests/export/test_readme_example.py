"""The README's Python example of ``clusterface.load`` runs as written (on stand-in files)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
from export_helpers import face_like_images

from clusterface.export import Threshold, update_onnx_metadata
from clusterface.export.weights import read_model_json, write_model_json

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    (block,) = [b for b in blocks if "clusterface.load(" in b]
    return block


def test_readme_load_example_runs(exported: Path, tmp_path: Path, monkeypatch, capsys):
    import clusterface

    shutil.copytree(exported, tmp_path / "exported")
    alice, bob = face_like_images(2, seed=11)
    noisy = np.clip(alice.astype(int) + np.random.default_rng(0).integers(-4, 5, alice.shape), 0, 255)
    for name, chw in (("alice_1", alice), ("alice_2", noisy.astype(np.uint8)), ("bob", bob)):
        cv2.imwrite(str(tmp_path / f"{name}.jpg"), np.ascontiguousarray(chw.transpose(1, 2, 0)[:, :, ::-1]))
    # a threshold between the two pairs' similarities stands in for `clusterface calibrate`
    model = clusterface.load(tmp_path / "exported")
    same, other = model.similarity(tmp_path / "alice_1.jpg", [tmp_path / "alice_2.jpg", tmp_path / "bob.jpg"])
    assert same > other
    meta = model.metadata
    meta.thresholds["1e-04"] = Threshold(1e-4, float(same + other) / 2, 1e-4, 1, 10000, 100, 0.9, 0, 1, 0, 1)
    update_onnx_metadata(tmp_path / "exported" / "model.onnx", meta)
    doc = read_model_json(tmp_path / "exported")
    write_model_json(tmp_path / "exported", doc["backbone"], meta, doc["config"])

    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(readme_example(), str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "[ True False]" in out
    assert namespace["a"].shape == (64,) and namespace["b"].shape == (2, 64)  # type: ignore[attr-defined]
