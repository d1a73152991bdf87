"""Set-up under torchrun: SynthFaces written by rank 0 only; runtime.sync_bn refused on CPU."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from training_standins import RandomFaces, free_port, make_objective, tiny_config

from clusterface.config import load_config
from clusterface.training import Trainer


def synth_worker(rank: int, world: int, port: int, root: str, out: str, fake: bool) -> None:
    """One rank building the synth-disk training folder; records which ranks called the writer.

    ``fake``: a stand-in writer (one file, then a pause so that rank 1 really has to wait), the
    real one is slow on a busy machine and this test is about who writes, not what.
    """
    import torch.distributed as dist

    import clusterface.synth as synth
    from clusterface.training.datasets import synth_on_main_rank

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    calls: list[int] = []
    writer = synth.generate_dataset

    def counting(cfg, progress=True):  # type: ignore[no-untyped-def]
        calls.append(rank)
        if not fake:
            return writer(cfg, progress=progress)
        paths = synth.synth_paths(Path(cfg.root))
        (paths.train_dir / "id0").mkdir(parents=True)
        time.sleep(1.0)
        (paths.train_dir / "id0" / "0.jpg").write_bytes(b"jpeg")
        return paths

    synth.generate_dataset = counting
    try:
        cfg = load_config(
            None,
            [
                f"synth.root={root}",
                "synth.identities=6",
                "synth.images_min=2",
                "synth.images_median=2",
                "synth.images_max=3",
                "synth.workers=0",
            ],
        )
        result: dict[str, object] = {"calls": calls}
        try:
            result["train_dir"] = str(synth_on_main_rank(cfg))
            result["files"] = len(list(Path(result["train_dir"]).rglob("*.jpg")))  # type: ignore[arg-type]
        except Exception as err:
            result["error"] = f"{type(err).__name__}: {err}"
        Path(out, f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_synthfaces_written_by_rank_zero_only_others_wait(tmp_path):
    mp.spawn(synth_worker, args=(2, free_port(), str(tmp_path / "synth"), str(tmp_path), True), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["calls"] == [0] and r1["calls"] == []  # rank 1 never calls the writer
    assert r0["train_dir"] == r1["train_dir"] and r0["files"] == r1["files"] > 0


@pytest.mark.slow
def test_rank_zero_failure_is_reported_on_every_rank(tmp_path):
    root = tmp_path / "synth"
    root.mkdir()
    (root / "someone_else.txt").write_text("not a SynthFaces folder")
    mp.spawn(synth_worker, args=(2, free_port(), str(root), str(tmp_path), False), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert "FileExistsError" in r0["error"]
    assert "rank 0 could not write SynthFaces" in r1["error"] and "FileExistsError" in r1["error"]
    assert (root / "someone_else.txt").is_file()  # nothing lost


def test_sync_bn_is_refused_on_cpu_with_the_fix():
    cfg = tiny_config(None, "runtime.sync_bn=true")
    with pytest.raises(ValueError, match=r"runtime.sync_bn=true needs CUDA.*runtime.sync_bn=false"):
        Trainer(cfg, RandomFaces(n=16), progress=False, objective_factory=make_objective)
    assert tiny_config(None).runtime.sync_bn is False  # off by default


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_sync_bn_converts_batchnorm_on_gpu():
    cfg = tiny_config(None, "runtime.sync_bn=true", "runtime.device=cuda", "model.backbone=cfnet_s")
    with pytest.warns(UserWarning, match="no effect in a single process"):
        trainer = Trainer(cfg, RandomFaces(n=16), progress=False, objective_factory=make_objective)
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in trainer.model.modules())
