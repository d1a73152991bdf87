"""Cache reuse, resume after an interruption, no corrupt or stale files."""

from __future__ import annotations

import errno
import json

import pytest
from synth_cases import tiny_config

from clusterface.synth import generate_dataset, writer


def test_second_call_reuses(tmp_path):
    cfg = tiny_config(tmp_path / "d")
    paths = generate_dataset(cfg, progress=False)
    stamp = {p: p.stat().st_mtime_ns for p in paths.root.rglob("*") if p.is_file()}
    assert generate_dataset(cfg, progress=False) == paths
    assert {p: p.stat().st_mtime_ns for p in paths.root.rglob("*") if p.is_file()} == stamp


def test_other_parameters_are_refused_then_overwritten(tmp_path):
    cfg = tiny_config(tmp_path / "d")
    generate_dataset(cfg, progress=False)
    other = tiny_config(tmp_path / "d", seed=99)
    with pytest.raises(FileExistsError):
        generate_dataset(other, progress=False)
    paths = generate_dataset(other, progress=False, overwrite=True)
    assert json.loads(paths.manifest.read_text())["params"]["seed"] == 99


def test_an_older_generator_version_is_rewritten_not_refused(tmp_path, monkeypatch):
    """A dataset cached by an older SynthFaces version with the same parameters is stale: rewrite it."""
    cfg = tiny_config(tmp_path / "d")
    monkeypatch.setattr(writer, "GENERATOR_VERSION", "synthfaces-old")
    old = generate_dataset(cfg, progress=False)
    assert json.loads(old.manifest.read_text())["params"]["generator"] == "synthfaces-old"
    monkeypatch.undo()
    paths = generate_dataset(cfg, progress=False)
    assert json.loads(paths.manifest.read_text())["params"]["generator"] == writer.GENERATOR_VERSION
    with pytest.raises(FileExistsError):  # other parameters are still refused
        generate_dataset(tiny_config(tmp_path / "d", seed=99), progress=False)


def test_resume_after_interruption(tmp_path, monkeypatch):
    reference = generate_dataset(tiny_config(tmp_path / "ref"), progress=False)
    cfg = tiny_config(tmp_path / "d")
    real = writer._render_chunk
    calls = {"n": 0}

    def flaky(args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C mid-way
        return real(args)

    monkeypatch.setattr(writer, "_render_chunk", flaky)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(cfg, progress=False)
    root = cfg.root
    assert not (root / "manifest.json").exists()
    written = list(root.rglob("*.jpg"))
    assert 0 < len(written) < sum(1 for _ in reference.root.rglob("*.jpg"))
    # a crash mid-write leaves only a temporary name behind, never a truncated .jpg
    stale = written[0].with_name(f".{written[0].name}.999.tmp")
    stale.write_bytes(b"partial")
    monkeypatch.setattr(writer, "_render_chunk", real)
    paths = generate_dataset(cfg, progress=False)
    assert not list(root.rglob("*.tmp"))
    ref_files = {p.relative_to(reference.root): p.read_bytes() for p in reference.root.rglob("*") if p.is_file()}
    new_files = {p.relative_to(paths.root): p.read_bytes() for p in paths.root.rglob("*") if p.is_file()}
    assert ref_files.keys() == new_files.keys()
    for k in ref_files:
        if k.name != "manifest.json":
            assert ref_files[k] == new_files[k], k


def test_refuses_a_foreign_non_empty_directory(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate_dataset(tiny_config(tmp_path / "d"), progress=False)


def test_failed_write_leaves_neither_file_nor_temporary(tmp_path, monkeypatch):
    """A full disk mid-write: the error reaches the caller, and no partial image or temporary stays."""

    def full_disk(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer.os, "write", full_disk)
    target = tmp_path / "0.jpg"
    with pytest.raises(OSError, match="No space"):
        writer._atomic_write_bytes(target, b"\xff\xd8" * 100)
    assert list(tmp_path.iterdir()) == []
