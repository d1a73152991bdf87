"""`clusterface train`: train one model from a config (the demo is in cli/demo.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from clusterface.cli.common import ConfigOption, OverridesArgument, resolve_config

#: Exit code when training aborts on too many non-finite steps in a row.
EXIT_NONFINITE = 4
#: Exit code when another rank of a distributed run died or stopped answering.
EXIT_LOST_RANK = 5


def train_command(
    config: ConfigOption = None,
    overrides: OverridesArgument = None,
    out: Annotated[
        Optional[Path],  # noqa: UP045 (typer needs Optional on 3.11)
        typer.Option("--out", "-o", help="Run directory (default: runtime.out_dir)."),
    ] = None,
    resume: Annotated[
        str,
        typer.Option(help="'auto' (newest checkpoint of the run directory, if any), 'never', or a checkpoint path."),
    ] = "auto",
    eval_bin: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--eval-bin",
            help="Verification .bin for periodic evaluation (default: eval.periodic_split; SynthFaces' val .bin "
            "when the data has a validation split, else its test .bin).",
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Progress bar / log lines.")] = True,
) -> int:
    """Train a model; writes config.yaml, checkpoints/, tb/ and metrics.json to the run directory.

    Under torchrun (e.g. `torchrun --nproc-per-node 2 -m clusterface train ...`) it runs DDP;
    schedule.batch_size is the global batch. Exit codes: 0 done, 130/143 stopped by SIGINT/SIGTERM
    after writing a checkpoint (rerun the same command to resume), 2 a config error (or a checkpoint
    that cannot be used, e.g. one of another batch size, a run directory another process writes, a
    single-identity training set), 4 too many non-finite steps, 5 another rank died. Any other
    error is a bug and keeps its traceback.
    """
    from clusterface.config import ConfigError
    from clusterface.training import (
        build_train_dataset,
        init_distributed,
        shutdown_distributed,
        train,
        verification_bin_path,
    )

    cfg = resolve_config(config, overrides)
    if out is not None:
        cfg.runtime.out_dir = out
    ctx = init_distributed(cfg.runtime.device, cfg.runtime.dist_timeout_s)
    try:
        try:
            train_set = build_train_dataset(cfg)
        except ConfigError as err:  # e.g. data.source=folder without data.path
            typer.echo(f"error: {err}", err=True)
            return 2
        bin_path = eval_bin or verification_bin_path(cfg)
        evaluate_fn = None
        if bin_path is not None and cfg.eval.every_epochs:
            from clusterface.evaluation import periodic_bin_evaluation

            evaluate_fn = periodic_bin_evaluation(bin_path, batch_size=cfg.eval.batch_size, flip=cfg.eval.flip)

        try:
            result = train(
                cfg,
                train_set,
                evaluate_fn=evaluate_fn,
                progress=progress and ctx.is_main,
                resume=None if resume == "never" else resume,
            )
        except Exception as err:  # known failures become an exit code; anything else keeps its traceback
            code = _exit_code_for(err)
            if code is None:
                raise
            typer.echo(f"error: {err}", err=True)
            return code
    finally:
        shutdown_distributed()
    if ctx.is_main:
        typer.echo(f"{result.status}: {result.global_step} steps, run directory {result.out_dir}")
    return result.exit_code


def _exit_code_for(err: BaseException) -> int | None:
    """The documented exit code of a known training failure; None for anything else (a bug)."""
    from pydantic import ValidationError

    from clusterface.config import ConfigError
    from clusterface.data.output_lock import OutputLockedError
    from clusterface.training import CheckpointError, LostRankError, NonFiniteLossError, TrainingDataError

    if isinstance(err, NonFiniteLossError):
        return EXIT_NONFINITE
    if isinstance(err, LostRankError):  # another rank died: the message says which, and how to resume
        return EXIT_LOST_RANK
    # e.g. resuming with another batch size, a run directory in use, a single-identity data set
    if isinstance(err, ConfigError | ValidationError | CheckpointError | OutputLockedError | TrainingDataError):
        return 2
    return None
