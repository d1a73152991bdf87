"""The data readers on a real SynthFaces output: pairs.txt -> .bin equals the shipped .bin,
train folder -> RecordIO gives the same items, data scan calls every part usable."""

from __future__ import annotations

import pytest
import torch

from clusterface.cli import main
from clusterface.config.schema import SynthConfig
from clusterface.data import ImageFolderDataset, RecordIODataset, load_bin
from clusterface.data.convert import folder_to_recordio
from clusterface.data.pairs import pairs_to_bin, read_pairs


@pytest.mark.slow
def test_synthfaces_output_reads_consistently(tmp_path):
    synth = pytest.importorskip("clusterface.synth")
    cfg = SynthConfig(root=tmp_path / "synth", identities=24, images_median=4, images_max=8, workers=0, seed=3)
    paths = synth.generate_dataset(cfg, progress=False)

    shipped = load_bin(paths.bin_path)
    rebuilt = pairs_to_bin(paths.pairs_path)
    assert rebuilt.issame == shipped.issame and rebuilt.images == shipped.images
    assert read_pairs(paths.pairs_path).num_folds == 10

    folder = ImageFolderDataset(paths.train_dir, bad_file_policy="raise")
    rec = tmp_path / "rec" / "train.rec"
    folder_to_recordio(paths.train_dir, rec, progress=False)
    recds = RecordIODataset(rec, bad_file_policy="raise")
    assert recds.labels.tolist() == folder.labels.tolist() and recds.num_classes == folder.num_classes
    for i in range(0, len(folder), max(1, len(folder) // 10)):
        assert torch.equal(recds[i][0], folder[i][0])

    for target in (paths.train_dir, paths.test_images_dir, paths.bin_path, paths.pairs_path, rec):
        assert main(["data", "scan", str(target), "--no-progress"]) == 0, target
