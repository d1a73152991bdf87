"""SIGINT/SIGTERM: the current step finishes, a checkpoint is written, the exit code is 130/143."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from training_standins import TINY_BACKBONE

from clusterface.training import load_checkpoint

HERE = Path(__file__).parent


def _launch(out: Path) -> subprocess.Popen:
    # Train through the CLI on random data (the synth source is replaced by RandomFaces in the child).
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        import training_standins as t
        from clusterface.training import datasets
        datasets._SOURCES["synth"] = lambda cfg: t.RandomFaces(n=64)
        t.install_standin_objective()
        from clusterface.cli import main
        sys.exit(main(["train", "--out", {str(out)!r},
                       "model.backbone={TINY_BACKBONE}", "model.embedding_dim=16", "model.channels_last=false",
                       "schedule.batch_size=8", "schedule.epochs=300", "logging.every_steps=1",
                       "eval.every_epochs=0", "data.workers=0", "objective.use_momentum_encoder=false"]))
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-u", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow)]
)
def test_signal_checkpoints_and_exits_with_distinct_code(tmp_path, signum, code):
    proc = _launch(tmp_path)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until two steps are done, then signal
        lines.append(line)
        if line.startswith("step 2 "):
            os.kill(proc.pid, signum)
            break
    rest = proc.communicate(timeout=300)[0]
    output = "".join(lines) + rest
    assert proc.returncode == code, output
    assert "stopped by signal" in output
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert state["position"]["global_step"] >= 2
    assert state["position"]["global_step"] < 300 * 8
