"""Full disk (docs/reliability.md), simulated with RLIMIT_FSIZE in a subprocess (writes past the limit fail with
EFBIG; Python ignores SIGXFSZ): a clean error, the previous checkpoint intact, no file left that
looks complete, during a checkpoint write, data convert, synth and report writing."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LIMIT = 48 * 1024  # bytes: above one small image or checkpoint, below the outputs written here


def _limited(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _run(args: list[str], limit: int | None = LIMIT, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        preexec_fn=(lambda: _limited(limit)) if limit else None,
    )


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_checkpoint_write_on_a_full_disk_keeps_the_previous_one(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import resource, sys, torch
        from clusterface.config import Config, config_to_dict
        from clusterface.training import CheckpointError, CheckpointRotation
        rot = CheckpointRotation({str(tmp_path)!r}, keep=2)
        cfg = config_to_dict(Config())
        rot.save({{"config": cfg, "backbone": {{"w": torch.ones(16)}}}}, 1)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT}))  # the disk fills up
        try:
            rot.save({{"config": cfg, "backbone": {{"w": torch.ones(100_000)}}}}, 2)
        except CheckpointError as err:
            print(err, file=sys.stderr)
            sys.exit(3)
    """)
    proc = _run(["-c", script], limit=None)
    assert proc.returncode == 3, proc.stderr
    assert "step-00000002.pt: could not write the checkpoint" in proc.stderr
    assert "the previous checkpoint is kept" in proc.stderr and "disk full" in proc.stderr
    assert _files(tmp_path) == ["last.pt", "step-00000001.pt"]  # no temporary, no step 2

    import torch

    from clusterface.training import load_checkpoint

    assert torch.equal(load_checkpoint(tmp_path / "last.pt")["backbone"]["w"], torch.ones(16))


@pytest.mark.slow
def test_data_convert_on_a_full_disk_leaves_no_output(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
    from data_helpers import write_folder

    src = tmp_path / "faces"
    write_folder(src, [6, 6, 6])  # ~18 x 8 KB JPEGs: more than LIMIT together
    out = tmp_path / "out"
    proc = _run(["-m", "clusterface", "data", "convert", str(src), str(out / "train.rec"), "--no-progress"])
    assert proc.returncode == 1, proc.stderr
    assert "error:" in proc.stderr and "File too large" in proc.stderr and "Traceback" not in proc.stderr
    assert _files(out) == []  # no .rec, .idx, label map or temporary

    back = tmp_path / "back"
    ok = _run(["-m", "clusterface", "data", "convert", str(src), str(out / "train.rec"), "--no-progress"], limit=None)
    assert ok.returncode == 0, ok.stderr
    # back to a folder: each image is its own small file, so a smaller limit fails the first one
    proc = _run(["-m", "clusterface", "data", "convert", str(out / "train.rec"), str(back), "--no-progress"], 4096)
    assert proc.returncode == 1 and "File too large" in proc.stderr and "Traceback" not in proc.stderr
    assert not back.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".back")] == []


@pytest.mark.slow
def test_synth_on_a_full_disk_leaves_no_manifest_and_resumes(tmp_path: Path) -> None:
    root = tmp_path / "synth"
    args = ["-m", "clusterface", "synth", "--out", str(root), "--identities", "14", "--seed", "3"]
    args += ["--test-fraction", "0.35", "--no-progress"]
    args += ["synth.images_min=2", "synth.images_median=3", "synth.images_max=6", "synth.workers=1"]
    proc = _run(args)
    assert proc.returncode == 1, proc.stderr
    assert "error:" in proc.stderr and "File too large" in proc.stderr and "Traceback" not in proc.stderr
    names = _files(root)
    assert "manifest.json" not in names  # the completion marker: the dataset does not look complete
    assert not [n for n in names if n.endswith(".tmp")]
    ok = _run(args, limit=None)  # rerun with space: completes
    assert ok.returncode == 0, ok.stderr
    assert (root / "manifest.json").is_file()


def test_report_on_a_full_disk_keeps_the_previous_report(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import resource, sys
        from pathlib import Path
        from clusterface.analysis.report import write_markdown_and_html
        out = Path({str(tmp_path)!r})
        write_markdown_and_html("# old\\n", out, "old")
        resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT}))
        try:
            write_markdown_and_html("# new\\n" + "row\\n" * 40_000, out, "new")
        except OSError as err:
            print(err, file=sys.stderr)
            sys.exit(3)
    """)
    proc = _run(["-c", script], limit=None)
    assert proc.returncode == 3, proc.stderr
    assert _files(tmp_path) == ["report.html", "report.md"]
    assert (tmp_path / "report.md").read_text() == "# old\n"
    assert "<title>old</title>" in (tmp_path / "report.html").read_text()
