"""Broken checkpoints (docs/reliability.md): truncated, a flipped bit in tensor data, another architecture or
class count; ``resume="auto"`` falls back to the newest good one and says what it skipped."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch
from training_standins import RandomFaces, make_objective, tiny_config

from clusterface.checkpoint import CHECKSUM_KEY, state_digest
from clusterface.config import Config, config_to_dict
from clusterface.training import CheckpointError, load_backbone, load_checkpoint, save_checkpoint, train
from clusterface.training.checkpoint import CheckpointRotation


def _state(value: float) -> dict:
    return {
        "config": config_to_dict(Config()),
        "backbone": {"w": torch.full((64,), value), "b": torch.arange(3, dtype=torch.bfloat16)},
        "objective": {"nested": [torch.zeros(2, 2), {"k": 1.5}], "empty": torch.zeros(0)},
        "position": {"global_step": 3},
    }


def _flip_bit_in_tensor_data(path: Path, entry_suffix: str = "/data/0") -> None:
    """Flip one bit inside a tensor's bytes in the zip (the entry's data, not its header)."""
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(entry_suffix))
    raw = bytearray(path.read_bytes())
    # local file header: 30 bytes + name + extra; data follows uncompressed (torch stores entries)
    start = info.header_offset
    name_len = int.from_bytes(raw[start + 26 : start + 28], "little")
    extra_len = int.from_bytes(raw[start + 28 : start + 30], "little")
    data_at = start + 30 + name_len + extra_len
    raw[data_at + 5] ^= 0x10
    path.write_bytes(bytes(raw))


def test_flipped_bit_in_tensor_data_is_refused(tmp_path: Path) -> None:
    path = save_checkpoint(_state(1.0), tmp_path / "a.pt")
    _flip_bit_in_tensor_data(path)
    # torch itself accepts the file and returns other numbers: this is why the checksum exists
    raw = torch.load(path, weights_only=True)
    assert not torch.equal(raw["backbone"]["w"], torch.full((64,), 1.0))
    with pytest.raises(CheckpointError, match=r"a\.pt: content checksum mismatch"):
        load_checkpoint(path)


def test_checksum_covers_every_part_and_survives_a_round_trip(tmp_path: Path) -> None:
    state = _state(2.0)
    path = save_checkpoint(state, tmp_path / "a.pt")
    loaded = load_checkpoint(path)
    assert loaded[CHECKSUM_KEY]["digest"] == state_digest(loaded)
    # any change anywhere in the payload (a plain value, a nested tensor, a new key) changes the digest
    for change in (
        lambda s: s["position"].update(global_step=4),
        lambda s: s["objective"]["nested"][0].add_(1e-7),
        lambda s: s.update(per_class={"margin": torch.ones(3)}),
        lambda s: s["objective"]["nested"][1].update(k=1.5000001),
    ):
        other = load_checkpoint(path)
        change(other)
        assert state_digest(other) != loaded[CHECKSUM_KEY]["digest"]


def test_checkpoint_without_checksum_still_loads(tmp_path: Path) -> None:
    """Checkpoints written before checksums existed load unchanged."""
    state = {"format": "clusterface-checkpoint/1", **_state(1.0)}
    buf = io.BytesIO()
    torch.save(state, buf)
    (tmp_path / "old.pt").write_bytes(buf.getvalue())
    assert torch.equal(load_checkpoint(tmp_path / "old.pt")["backbone"]["w"], torch.full((64,), 1.0))


@pytest.mark.parametrize("keep", [10, 100, 1000, -1])
def test_truncated_checkpoint_is_refused(tmp_path: Path, keep: int) -> None:
    path = save_checkpoint(_state(1.0), tmp_path / "a.pt")
    raw = path.read_bytes()
    path.write_bytes(raw[:keep] if keep > 0 else raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match=r"a\.pt: cannot load checkpoint"):
        load_checkpoint(path)


def _run(cfg, data, out, resume=None):  # type: ignore[no-untyped-def]
    return train(cfg, data, out_dir=out, progress=False, resume=resume, objective_factory=make_objective)


def test_resume_auto_skips_corrupt_newest_and_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = RandomFaces(n=64, num_classes=4)
    cfg = tiny_config(None, "checkpoint.every_steps=2", "checkpoint.keep=3", "schedule.max_steps=6")
    first = _run(cfg, data, tmp_path / "run")
    assert first.global_step == 6
    ckpts = tmp_path / "run" / "checkpoints"
    assert [p.name for p in CheckpointRotation(ckpts).step_files()] == [
        "step-00000002.pt",
        "step-00000004.pt",
        "step-00000006.pt",
    ]
    _flip_bit_in_tensor_data(ckpts / "step-00000006.pt")  # last.pt is a hard link to it: both bad
    capsys.readouterr()
    cfg = tiny_config(None, "checkpoint.every_steps=2", "checkpoint.keep=3")
    second = _run(cfg, data, tmp_path / "run", "auto")
    out = capsys.readouterr().out
    assert "skipping checkpoint" in out and "last.pt: content checksum mismatch" in out
    assert "step-00000006.pt: content checksum mismatch" in out
    assert f"resumed from {ckpts / 'step-00000004.pt'} at step 4" in out
    assert second.global_step == 16
    assert len(second.losses) == 12


def test_resume_auto_with_only_bad_checkpoints_does_not_start_over(tmp_path: Path) -> None:
    data = RandomFaces(n=64, num_classes=4)
    _run(tiny_config(None, "schedule.max_steps=2"), data, tmp_path / "run")
    ckpts = tmp_path / "run" / "checkpoints"
    for p in ckpts.glob("*.pt"):
        p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"checkpoints: none of its 2 checkpoint\(s\) is usable"):
        _run(tiny_config(None), data, tmp_path / "run", "auto")
    assert all(p.stat().st_size == 100 for p in ckpts.glob("*.pt"))  # nothing overwritten


@pytest.mark.parametrize(
    ("overrides", "classes", "part", "detail"),
    [
        (("model.embedding_dim=32",), 4, "backbone", r"fc\.weight: \(16, 128\) in the checkpoint, \(32, 128\) here"),
        ((), 6, "objective", r"\(4, 16\) in the checkpoint, \(6, 16\) here"),
    ],
)
def test_resume_into_another_architecture_or_class_count_is_refused(
    tmp_path: Path, overrides: tuple[str, ...], classes: int, part: str, detail: str
) -> None:
    first = _run(tiny_config(None, "schedule.max_steps=2"), RandomFaces(n=64, num_classes=4), tmp_path / "run")
    with pytest.raises(CheckpointError, match=rf"step-00000002\.pt: its {part}.* does not fit this run .*{detail}"):
        data = RandomFaces(n=64, num_classes=classes)
        _run(tiny_config(None, *overrides), data, tmp_path / "other", first.last_checkpoint)


def test_load_backbone_refuses_a_state_of_another_shape(tmp_path: Path) -> None:
    first = _run(tiny_config(None, "schedule.max_steps=1"), RandomFaces(n=16), tmp_path / "run")
    state = load_checkpoint(first.last_checkpoint)
    state["backbone"]["fc.weight"] = torch.zeros(3, 3)
    save_checkpoint({k: v for k, v in state.items() if k != "format"}, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match=r"edited\.pt: its backbone does not fit .*fc\.weight: \(3, 3\)"):
        load_backbone(tmp_path / "edited.pt")
