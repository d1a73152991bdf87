"""Checkpoints: a kill between write and rename keeps the previous one; rotation; no non-finite weights."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from clusterface.config import Config, config_to_dict
from clusterface.training import CheckpointError, CheckpointRotation, load_checkpoint, save_checkpoint


def _state(value: float) -> dict:
    return {"config": config_to_dict(Config()), "backbone": {"w": torch.full((4,), value)}}


def test_kill_between_write_and_rename_keeps_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt" / "last.pt"
    script = textwrap.dedent(f"""
        import os, signal, torch
        from clusterface.config import Config, config_to_dict
        from clusterface.training import save_checkpoint
        def state(v):
            return {{"config": config_to_dict(Config()), "backbone": {{"w": torch.full((4,), v)}}}}
        save_checkpoint(state(1.0), {str(path)!r})
        os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)  # die after write+fsync, before rename
        save_checkpoint(state(2.0), {str(path)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    leftovers = [p.name for p in path.parent.iterdir() if p.name != "last.pt"]
    assert leftovers, "the interrupted write should have left its temporary file behind"
    state = load_checkpoint(path)
    assert torch.equal(state["backbone"]["w"], torch.full((4,), 1.0))
    assert CheckpointRotation(path.parent).latest() == path


def test_rotation_keeps_last_k_and_links_last(tmp_path):
    rot = CheckpointRotation(tmp_path, keep=2)
    for step in (1, 2, 3):
        rot.save(_state(float(step)), step)
    assert [p.name for p in rot.step_files()] == ["step-00000002.pt", "step-00000003.pt"]
    assert torch.equal(load_checkpoint(tmp_path / "last.pt")["backbone"]["w"], torch.full((4,), 3.0))
    # a corrupt newest file: latest() falls back to the newest usable one
    (tmp_path / "last.pt").write_bytes(b"garbage")
    (tmp_path / "step-00000003.pt").unlink()
    assert rot.latest() == tmp_path / "step-00000002.pt"


def test_non_finite_weights_are_never_written(tmp_path):
    rot = CheckpointRotation(tmp_path)
    with pytest.raises(CheckpointError, match="non-finite"):
        rot.save(_state(float("nan")), 7)
    assert not list(tmp_path.iterdir())


def test_checkpoint_loads_with_weights_only(tmp_path):
    save_checkpoint(_state(1.0), tmp_path / "a.pt")
    torch.load(tmp_path / "a.pt", weights_only=True)
