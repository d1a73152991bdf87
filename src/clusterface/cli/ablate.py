"""`clusterface ablate`: the ablation study (rows × seeds × datasets) and its report."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from clusterface.cli.common import ConfigOption, OverridesArgument
from clusterface.config import ConfigError

EXIT_FAILED_CELLS = 1
EXIT_INTERRUPTED = 130


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError as err:
        raise typer.BadParameter(f"--seeds takes comma-separated integers, e.g. 0,1,2 (got {text!r})") from err
    if not seeds or len(set(seeds)) != len(seeds):
        raise typer.BadParameter(f"--seeds needs distinct integers (got {text!r})")
    return seeds


def ablate_command(
    overrides: OverridesArgument = None,
    config: ConfigOption = None,
    rows: Annotated[
        Optional[list[Path]],  # noqa: UP045 (typer needs Optional on 3.11)
        typer.Option("--rows", "-r", help="Row config files or directories (default: configs/ablations/)."),
    ] = None,
    seeds: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--seeds", "-s", help="Comma-separated seeds (default 0,1,2)."),
    ] = None,
    datasets: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--dataset",
            "-d",
            help="SynthFaces preset with synth fields, e.g. 'hard:label_noise=0.05,name=hard-noise5', or a "
            "dataset YAML (name, config, verification_bin, cluster_set). Repeatable. Default: default.",
        ),
    ] = None,
    study_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--study-dir", help="Cells (runs, checkpoints) and the report with plots. Default runs/ablation."),
    ] = None,
    results_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--results-dir", help="One small JSON per cell, to commit. Default results/ablation."),
    ] = None,
    data_root: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--data-root", help="Where SynthFaces datasets are written. Default data/ablation."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Cells side by side (threads split).")] = 1,
    baseline: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--baseline", help="Row the others are compared with (default: the ArcFace row)."),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Rows 1, 6, 7 (ArcFace, full, no momentum) unless --rows; seeds 0,1; 64 identities; 2 epochs.",
        ),
    ] = False,
    split: Annotated[
        str,
        typer.Option(
            "--split",
            help="Held-out identities to evaluate on: test (the study's tables) or val (SynthFaces' validation "
            "split, for choosing budgets and hyperparameters without touching the test split).",
        ),
    ] = "test",
    report_only: Annotated[
        bool, typer.Option("--report-only", help="Only rebuild the report from the cell records in --results-dir.")
    ] = False,
) -> int:
    """Run an ablation study: every row (a method config) × seed × dataset is one cell = one training
    run + evaluation on held-out identities (10-fold verification, TAR@FAR, clustering with Infomap and
    k-means). Finished cells are cached by the hash of their config: rerunning the same command after
    Ctrl-C or a crash continues where it stopped. Writes one JSON per cell under --results-dir and the
    report (ablation.md / .html / .json, plots) into --study-dir; per row the mean ± 95 % interval over
    seeds and the difference to ArcFace paired by seed.
    """
    study = study_dir or Path("runs/ablation-quick" if quick else "runs/ablation")
    results = results_dir or (study / "results" if quick else Path("results/ablation"))
    failed = 0
    if not report_only:
        code = _run_cells(rows, seeds, datasets, config, overrides or [], quick, study, results, data_root, jobs, split)
        if code == EXIT_INTERRUPTED:
            return code
        failed = code
    return _write_report(results, study, baseline, failed)


def _run_cells(
    rows: list[Path] | None,
    seeds: str | None,
    datasets: list[str] | None,
    config: Path | None,
    overrides: list[str],
    quick: bool,
    study: Path,
    results: Path,
    data_root: Path | None,
    jobs: int,
    split: str = "test",
) -> int:
    """Plan and run the study; returns the number of failed cells, or EXIT_INTERRUPTED."""
    from clusterface.workflows.ablation import (
        DEFAULT_DATASETS,
        DEFAULT_SEEDS,
        QUICK_ROWS,
        QUICK_SEEDS,
        StudyInterrupted,
        load_rows,
        parse_dataset,
        plan_study,
        run_study,
    )

    try:
        cells = plan_study(
            load_rows(rows or (list(QUICK_ROWS) if quick else None)),
            _seeds(seeds) if seeds else list(QUICK_SEEDS if quick else DEFAULT_SEEDS),
            [parse_dataset(d) for d in (datasets or DEFAULT_DATASETS)],
            config_path=config,
            overrides=overrides,
            quick=quick,
            data_root=data_root or Path("data/ablation-quick" if quick else "data/ablation"),
            study_dir=study,
            split=split,
        )
    except ConfigError as err:
        raise typer.BadParameter(str(err)) from err
    typer.echo(f"ablation: {len(cells)} cells -> {study} (records: {results})")
    try:
        outcome = run_study(cells, study, results, jobs=jobs)
    except StudyInterrupted as err:
        typer.echo(f"interrupted: {err}", err=True)
        if jobs > 1:  # cells running in threads cannot be stopped gracefully; they resume from checkpoints
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    for o in outcome.failed:
        typer.echo(
            f"FAILED {o.cell.label}: {o.error} (traceback: {study / 'cells' / o.cell.key / 'error.txt'})", err=True
        )
    return len(outcome.failed)


def _write_report(results: Path, study: Path, baseline: str | None, failed: int) -> int:
    """The report with plots into the study directory, the tables beside the records; the exit code."""
    from clusterface.analysis.ablation_report import write_ablation_report
    from clusterface.analysis.ablation_summary import load_cell_records

    try:
        records = load_cell_records(results)
    except (FileNotFoundError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        return 2
    files = write_ablation_report(records, study, baseline=baseline)
    write_ablation_report(records, results, baseline=baseline, plots_too=False)  # committable: no images
    typer.echo(f"report: {files['md']} ({files['html']}); tables: {results / 'ablation.md'}")
    if failed:
        typer.echo(f"{failed} cell(s) failed; the report covers the others", err=True)
        return EXIT_FAILED_CELLS
    return 0
