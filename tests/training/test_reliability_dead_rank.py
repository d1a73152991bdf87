"""A dead rank (docs/reliability.md): kill one gloo rank mid-epoch; the survivor exits non-zero well within
runtime.dist_timeout_s naming the lost rank; rerunning the same command resumes from the last
checkpoint. Both under torchrun (its agent stops the other ranks) and with ranks started by hand
(nothing stops the survivor but the broken collective)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from training_standins import free_port

pytestmark = pytest.mark.slow

TIMEOUT_S = 60

SCRIPT = textwrap.dedent(f"""
    import os, signal, sys
    sys.path.insert(0, {str(Path(__file__).parent)!r})
    import torch
    torch.set_num_threads(1)
    from training_standins import RandomFaces, make_objective, tiny_config
    from clusterface.training import LostRankError, init_distributed, shutdown_distributed, train

    class DiesOnRankOne(RandomFaces):
        reads = 0
        def __getitem__(self, i):
            DiesOnRankOne.reads += 1
            kill_at = int(os.environ.get("KILL_AFTER_READS", "0"))
            if kill_at and int(os.environ["RANK"]) == 1 and DiesOnRankOne.reads > kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, as the OOM killer does
            return super().__getitem__(i)

    ctx = init_distributed("cpu", timeout_s={TIMEOUT_S})
    try:
        cfg = tiny_config(None, "checkpoint.every_steps=2", "runtime.dist_timeout_s={TIMEOUT_S}")
        result = train(cfg, DiesOnRankOne(n=64), out_dir=sys.argv[1], progress=True, resume="auto",
                       objective_factory=make_objective)
        print(f"rank {{ctx.rank}} finished at step {{result.global_step}}", flush=True)
    except LostRankError as err:
        print(f"error: {{err}}", file=sys.stderr, flush=True)
        sys.exit(5)
    finally:
        shutdown_distributed()
""")

# batch 8 over 2 ranks: 4 reads per step on rank 1; 8 steps per epoch, 16 in all
KILL_AFTER_READS = 4 * 5 + 2  # during step 6, after the checkpoint of step 4


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", **extra}


def test_survivor_names_the_dead_rank_and_exits(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    env = _env(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), WORLD_SIZE="2")
    env["KILL_AFTER_READS"] = str(KILL_AFTER_READS)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(out)],
            env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in (0, 1)
    ]
    _, err0 = procs[0].communicate(timeout=TIMEOUT_S * 3)
    procs[1].wait(timeout=TIMEOUT_S)
    assert procs[1].returncode == -9
    assert procs[0].returncode == 5, err0
    assert "rank 0: lost rank 1 (last seen at step 5) at step 6" in err0
    assert "Rerun the same command to resume" in err0
    # noticed when the connection broke, not when runtime.dist_timeout_s ran out (no wall-clock bound here:
    # the message says which of the two it was)
    assert "Connection" in err0 and "timed out" not in err0.lower()
    assert (out / "checkpoints" / "step-00000004.pt").is_file()


def test_torchrun_reports_the_dead_rank_and_the_rerun_resumes(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"

    def cmd() -> list[str]:
        # a fresh rendezvous port per launch: the killed run's port may still be held while its
        # processes wind down, and a rerun rendezvousing there can be aborted
        launch = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
        return [*launch, "--master-port", str(free_port()), str(script), str(out)]

    killed = subprocess.run(
        cmd(), env=_env(KILL_AFTER_READS=str(KILL_AFTER_READS)), capture_output=True, text=True, timeout=TIMEOUT_S * 3
    )
    assert killed.returncode != 0
    # torchrun's summary names the rank that died first
    root_cause = killed.stderr.split("Root Cause")[1]
    assert "rank      : 1 (local_rank: 1)" in root_cause and "SIGKILL" in root_cause
    steps = sorted(p.name for p in (out / "checkpoints").glob("step-*.pt"))
    assert steps[-1] == "step-00000004.pt"

    rerun = subprocess.run(cmd(), env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S * 3)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"resumed from {out / 'checkpoints' / 'last.pt'} at step 4" in rerun.stdout  # last.pt = step 4
    assert "rank 0 finished at step 16" in rerun.stdout
