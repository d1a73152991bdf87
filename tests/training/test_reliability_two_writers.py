"""Two writers (docs/reliability.md): train / synth / data convert into an output another live process writes
are refused naming that process; a lock left by a dead process is taken over."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from training_standins import RandomFaces, make_objective, tiny_config

from clusterface.cli import main
from clusterface.data.output_lock import OutputLock, OutputLockedError, lock_path_for
from clusterface.training import train


@contextmanager
def _held_by_other_process(target: Path, command: str = "test holder") -> Iterator[subprocess.Popen[str]]:
    """A live process holding the lock of ``target`` until the block ends."""
    script = textwrap.dedent(f"""
        import sys
        from clusterface.data.output_lock import OutputLock
        with OutputLock({str(target)!r}, {command!r}):
            print("ready", flush=True)
            sys.stdin.read()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_lock_names_the_live_holder_and_is_released(tmp_path: Path) -> None:
    target = tmp_path / "run"
    with _held_by_other_process(target) as holder:
        with pytest.raises(
            OutputLockedError, match=rf"run is being written by process {holder.pid} on host .*test holder"
        ):
            OutputLock(target, "second").acquire()
    # the holder was killed (SIGKILL: no clean-up ran), its file stays; the kernel dropped the flock
    info = json.loads(lock_path_for(target).read_text())
    assert info["pid"] == holder.pid
    with OutputLock(target, "third"):
        assert json.loads(lock_path_for(target).read_text())["command"] == "third"
    assert not lock_path_for(target).exists()


def test_lock_of_another_host_is_refused_with_the_fix(tmp_path: Path) -> None:
    target = tmp_path / "run"
    lock_path_for(target).write_text(json.dumps({"pid": 4242, "host": "gpu-node-7", "command": "clusterface train"}))
    with pytest.raises(OutputLockedError, match=r"process 4242 on host gpu-node-7 .*delete the lock file"):
        OutputLock(target, "here").acquire()


def test_lock_in_one_process_refuses_a_second_lock_of_the_same_output(tmp_path: Path) -> None:
    with OutputLock(tmp_path / "x.rec", "first"):
        with pytest.raises(OutputLockedError):
            OutputLock(tmp_path / "x.rec", "second").acquire()


def test_second_train_into_a_live_run_directory_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with _held_by_other_process(out, "clusterface train") as holder:
        with pytest.raises(OutputLockedError, match=rf"process {holder.pid} .*clusterface train"):
            train(
                tiny_config(None, "schedule.max_steps=1"),
                RandomFaces(n=16),
                out_dir=out,
                progress=False,
                objective_factory=make_objective,
            )
    assert not (out / "checkpoints").exists()  # nothing written
    result = train(
        tiny_config(None, "schedule.max_steps=1"),
        RandomFaces(n=16),
        out_dir=out,
        progress=False,
        objective_factory=make_objective,
    )
    assert result.global_step == 1 and not lock_path_for(out).exists()


def test_second_data_convert_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from data_helpers import write_folder  # tests/data helper, importable when collected together

    src = tmp_path / "faces"
    write_folder(src, [2, 2])
    dst = tmp_path / "out" / "train.rec"
    with _held_by_other_process(dst, "clusterface data convert") as holder:
        assert main(["data", "convert", str(src), str(dst), "--no-progress"]) == 1
        assert f"process {holder.pid}" in capsys.readouterr().err
    assert not dst.exists()
    assert main(["data", "convert", str(src), str(dst), "--no-progress"]) == 0


def test_second_synth_is_refused_before_rendering(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "synth"))
    from synth_cases import tiny_config as synth_config

    from clusterface.synth import generate_dataset

    root = tmp_path / "synth"
    with _held_by_other_process(root, "clusterface synth") as holder:
        with pytest.raises(OutputLockedError, match=rf"process {holder.pid}"):
            generate_dataset(synth_config(root), progress=False)
    assert not root.exists()


@pytest.fixture(autouse=True)
def _data_helpers_on_path() -> None:
    path = str(Path(__file__).resolve().parents[1] / "data")
    if path not in sys.path:
        sys.path.insert(0, path)


def test_sigkilled_holder_leaves_a_lock_that_is_taken_over(tmp_path: Path) -> None:
    target = tmp_path / "run"
    script = (
        f"from clusterface.data.output_lock import OutputLock; import os, signal; "
        f"OutputLock({str(target)!r}, 'x').acquire(); os.kill(os.getpid(), signal.SIGKILL)"
    )
    proc = subprocess.run([sys.executable, "-c", script])
    assert proc.returncode == -signal.SIGKILL
    assert lock_path_for(target).exists()
    with OutputLock(target, "after"):
        pass
