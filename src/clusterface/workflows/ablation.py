"""The ablation study: rows (method configs) × seeds × datasets, each cell trained and evaluated once.

``plan_study`` resolves every cell's config; ``run_study`` trains and evaluates the cells that
are not finished yet and writes one small JSON per cell; ``write_ablation_report``
(``clusterface.analysis.ablation_report``) builds the tables and plots from those JSON files.

Caching and resume. A cell is identified by the hash of its resolved config (minus fields that
do not change the result: output paths, worker counts, logging) and lives in
``STUDY/cells/<hash>/``: ``run/`` is its training run (checkpoints), ``result.json`` appears only
when the cell is complete (written atomically). Running the same command again skips finished
cells and resumes an unfinished one from its newest checkpoint (the trainer restores data
order, RNG and optimiser state), so a study stopped by Ctrl-C or SIGKILL loses at most the
steps since the last checkpoint.

Pairing. Every row of a seed runs with ``runtime.seed = seed`` on the same dataset: the trainer
seeds before building the backbone and the classifier and draws the data order and the flips
from the seed, so all rows of a seed start from the same weights and see the same batches
(tests/workflows/test_ablation_pairing.py). Differences between rows of one seed are due to the
method alone, which is why the report compares rows paired by seed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import resource
import shlex
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clusterface.config import Config, ConfigError, config_to_dict, load_config, merge_trees

#: Version of the cell record; part of every cell's hash, so a change of what a cell measures
#: re-runs the cells instead of mixing records of two kinds.
CELL_FORMAT = "ablation-cell-1"
DEFAULT_ROWS_DIR = Path("configs/ablations")
DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2)
DEFAULT_DATASETS: tuple[str, ...] = ("default",)
#: Clustering methods of the study (the issue's Infomap and k-means).
STUDY_CLUSTER_METHODS: tuple[str, ...] = ("infomap", "kmeans")
#: Which held-out identities a cell is evaluated on: ``test`` for the study's tables, ``val``
#: (SynthFaces' validation split, disjoint from train and test) for choosing budgets and
#: hyperparameters without touching the test split.
EVAL_SPLITS: tuple[str, ...] = ("test", "val")

# The study's own defaults (under the user's --config, the dataset, the row and the overrides).
# Sized for 2 CPU cores shared with other work: >= 600 identities with a validation split (identities
# disjoint from train and test, for choosing budgets and hyperparameters; the test split is for the
# table), median 10 images per identity (SynthFaces' default is 20), cfnet_s, 2 epochs at batch 64
# (~160 steps). That is far below convergence; docs/results.md says so and shows the learning curves.
STUDY_DEFAULTS: dict[str, Any] = {
    "synth": {"identities": 600, "test_fraction": 0.2, "val_fraction": 0.1, "images_median": 10},
    "data": {"source": "synth-disk", "workers": 2},
    "model": {"backbone": "cfnet_s", "embedding_dim": 512},
    "schedule": {"epochs": 2, "batch_size": 64, "warmup_epochs": 0.2},
    "optim": {"lr": 0.1},
    "eval": {"every_epochs": 0},
    "checkpoint": {"keep": 1, "every_steps": 25},  # a killed cell loses at most 25 steps
    "logging": {"every_steps": 10},
    "objective": {"warmup_epochs": 0.5},  # the cluster terms act for the last 75 % of the run
}
# --quick: a short look in a few minutes on 2 cores (every row, 2 seeds, a small set, 2 epochs).
QUICK_DEFAULTS: dict[str, Any] = {
    "synth": {"identities": 64, "images_median": 8, "images_max": 20, "val_fraction": 0.0},
    "model": {"embedding_dim": 128},
    "schedule": {"epochs": 2, "batch_size": 32, "warmup_epochs": 0.3},
    "objective": {"warmup_epochs": 0.5},
}
QUICK_SEEDS: tuple[int, ...] = (0, 1)
# --quick's rows unless --rows is given: the baseline, the full method and the full method without
# momentum encoder (each quick cell costs about a minute on 2 shared cores, mostly fixed overhead).
QUICK_ROWS: tuple[Path, ...] = tuple(
    DEFAULT_ROWS_DIR / f"{name}.yaml" for name in ("1_arcface", "6_full", "7_full_no_momentum")
)
SYNTH_PRESETS: tuple[str, ...] = ("easy", "default", "hard")

# Config fields that do not change a cell's result (where it writes, how many workers, logging).
_NOT_HASHED: tuple[tuple[str, ...], ...] = (
    ("synth", "root"),
    ("synth", "workers"),
    ("data", "workers"),
    ("runtime", "out_dir"),
    ("runtime", "dist_timeout_s"),
    ("checkpoint", "keep"),
    ("checkpoint", "every_steps"),
    ("logging", "every_steps"),
    ("eval", "batch_size"),
)


class StudyInterrupted(RuntimeError):
    """The study was stopped (Ctrl-C / SIGTERM) after checkpointing; rerun the same command to continue."""


@dataclass(frozen=True)
class AblationRow:
    """One row: a method config file (its stem is the row's name)."""

    name: str
    path: Path
    tree: dict[str, Any] = field(hash=False, compare=False)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of the study: config sections to merge, and its held-out evaluation sets.

    SynthFaces datasets take their pair set and face set from the generated data; other sources
    name them (``verification_bin``: an insightface .bin of held-out identities; ``cluster_set``:
    a labelled image folder or feature file of held-out identities).
    """

    name: str
    spec: str
    tree: dict[str, Any] = field(hash=False, compare=False)
    verification_bin: Path | None = None
    cluster_set: Path | None = None


@dataclass
class AblationCell:
    """One (dataset, row, seed) with its resolved config and cache key."""

    dataset: DatasetSpec
    row: AblationRow
    seed: int
    config: Config
    key: str
    reproduce: str
    split: str = "test"

    @property
    def label(self) -> str:
        return f"{self.dataset.name}/{self.row.name}/seed{self.seed}"


@dataclass
class CellOutcome:
    cell: AblationCell
    status: str  # "cached" | "done" | "failed"
    record: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class StudyResult:
    """What a study run did: per cell its outcome, and where the results and the report went."""

    study_dir: Path
    results_dir: Path
    outcomes: list[CellOutcome] = field(default_factory=list)
    report: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> list[CellOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


# ----------------------------------------------------------------------------- specification
def load_rows(paths: Sequence[str | Path] | None = None) -> list[AblationRow]:
    """Rows from YAML files or directories of YAML files (default: ``configs/ablations/``), in name order."""
    files: list[Path] = []
    for p in [Path(x) for x in (paths or [DEFAULT_ROWS_DIR])]:
        if p.is_dir():
            found = sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml"))
            if not found:
                raise ConfigError(f"row directory {p} holds no .yaml files")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            hint = " (run from the repository root, or pass --rows)" if p == DEFAULT_ROWS_DIR else ""
            raise ConfigError(f"row config {p} does not exist{hint}")
    rows = []
    for f in files:
        try:
            tree = yaml.safe_load(f.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"row config {f} is not valid YAML: {err}") from err
        if not isinstance(tree, dict):
            raise ConfigError(f"row config {f} must hold a mapping of config sections")
        rows.append(AblationRow(name=f.stem, path=f, tree=tree))
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        raise ConfigError(f"two rows have the same file name: {names}")
    return rows


def parse_dataset(spec: str) -> DatasetSpec:
    """``PRESET[:key=value,...]`` (a SynthFaces preset with synth fields; ``name=`` names it) or a YAML file.

    Examples: ``default``, ``hard:label_noise=0.05,name=hard-noise5``, ``my_data.yaml`` where the
    YAML holds ``name``, ``config`` (config sections, e.g. ``data: {source: folder, path: ...}``),
    ``verification_bin`` and ``cluster_set`` (needed unless the source is SynthFaces).
    """
    head, _, params = spec.partition(":")
    if head in SYNTH_PRESETS:
        synth: dict[str, Any] = {"preset": head}
        name = head
        for item in filter(None, (p.strip() for p in params.split(","))):
            key, eq, raw = item.partition("=")
            if not eq:
                raise ConfigError(f"dataset {spec!r}: {item!r} is not key=value (e.g. default:identities=640)")
            if key.strip() == "name":
                name = raw.strip()
            else:
                synth[key.strip()] = yaml.safe_load(raw)
        if not name or "/" in name:
            raise ConfigError(f"dataset {spec!r}: name {name!r} must be non-empty and contain no '/'")
        return DatasetSpec(name=name, spec=spec, tree={"synth": synth})
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(
            f"dataset {spec!r} is neither a SynthFaces preset ({', '.join(SYNTH_PRESETS)}) nor a YAML file"
        )
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"dataset file {path} is not valid YAML: {err}") from err
    if not isinstance(doc, dict) or not set(doc) <= {"name", "config", "verification_bin", "cluster_set"}:
        raise ConfigError(f"dataset file {path} must be a mapping of name, config, verification_bin, cluster_set")
    tree = doc.get("config") or {}
    source = tree.get("data", {}).get("source", "synth-disk")
    vb, cs = doc.get("verification_bin"), doc.get("cluster_set")
    if source not in ("synth", "synth-disk") and (vb is None or cs is None):
        raise ConfigError(
            f"dataset file {path}: data.source={source} needs verification_bin and cluster_set "
            "(held-out identities to evaluate on)"
        )
    return DatasetSpec(
        name=str(doc.get("name") or path.stem),
        spec=spec,
        tree=tree,
        verification_bin=Path(vb) if vb else None,
        cluster_set=Path(cs) if cs else None,
    )


def _drop(tree: dict[str, Any], keys: Sequence[str]) -> None:
    node: Any = tree
    for k in keys[:-1]:
        node = node.get(k) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(keys[-1], None)


def cell_key(cfg: Config, dataset: DatasetSpec, split: str = "test") -> str:
    """16 hex digits of the SHA-256 of what determines a cell's result (config, evaluation sets, format).

    The split enters the hash only when it is not ``test`` (keys of test cells predate the option).
    """
    tree = copy.deepcopy(config_to_dict(cfg))
    for keys in _NOT_HASHED:
        _drop(tree, keys)
    blob = {
        "format": CELL_FORMAT,
        "config": tree,
        "verification_bin": str(dataset.verification_bin) if dataset.verification_bin else None,
        "cluster_set": str(dataset.cluster_set) if dataset.cluster_set else None,
        "cluster_methods": list(STUDY_CLUSTER_METHODS),
    }
    if split != "test":
        blob["split"] = split
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def _synth_root(data_root: Path, name: str, tree: dict[str, Any]) -> Path:
    """One directory per distinct SynthFaces parameter set (so changing a parameter never clashes)."""
    params = {k: v for k, v in tree.get("synth", {}).items() if k not in ("root", "workers")}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return data_root / f"{name}-{digest}"


def plan_study(
    rows: Sequence[AblationRow],
    seeds: Sequence[int],
    datasets: Sequence[DatasetSpec],
    *,
    config_path: str | Path | None = None,
    overrides: Sequence[str] = (),
    quick: bool = False,
    data_root: str | Path = "data/ablation",
    study_dir: str | Path = "runs/ablation",
    split: str = "test",
) -> list[AblationCell]:
    """Resolve every cell's config: study defaults (+ quick) <- --config <- dataset <- row <- overrides <- seed.

    ``split="val"`` evaluates every cell on SynthFaces' validation split instead of the test split
    (for sensitivity sweeps). The command that reproduces a cell alone is stored with it
    (``AblationCell.reproduce``).
    """
    if split not in EVAL_SPLITS:
        raise ConfigError(f"split must be one of {', '.join(EVAL_SPLITS)} (got {split!r})")
    base = merge_trees(STUDY_DEFAULTS, QUICK_DEFAULTS) if quick else STUDY_DEFAULTS
    if config_path is not None:
        base = config_to_dict(load_config(config_path, [], base=base))
    cells = []
    for ds in datasets:
        for seed in seeds:  # seed-major: a study stopped early holds complete seeds, paired across rows
            for row in rows:
                tree = merge_trees(merge_trees(base, ds.tree), row.tree)
                try:
                    cfg = load_config(None, [*overrides, f"runtime.seed={seed}"], base=tree)
                except ConfigError as err:
                    raise ConfigError(f"row {row.path}, dataset {ds.spec!r}: {err}") from err
                if cfg.data.source in ("synth", "synth-disk") and "root" not in ds.tree.get("synth", {}):
                    cfg.synth.root = _synth_root(Path(data_root), ds.name, config_to_dict(cfg))
                if split == "val" and not (cfg.data.source in ("synth", "synth-disk") and cfg.synth.val_fraction):
                    raise ConfigError(
                        f"dataset {ds.spec!r}: --split val needs a SynthFaces dataset with a validation split "
                        "(synth.val_fraction > 0)"
                    )
                key = cell_key(cfg, ds, split)
                cfg.runtime.out_dir = Path(study_dir) / "cells" / key / "run"
                cmd = ["clusterface", "ablate", "--rows", str(row.path), "--seeds", str(seed), "--dataset", ds.spec]
                if config_path is not None:
                    cmd += ["--config", str(config_path)]
                if quick:
                    cmd.append("--quick")
                if split != "test":
                    cmd += ["--split", split]
                cmd += list(overrides)
                cells.append(AblationCell(ds, row, int(seed), cfg, key, shlex.join(cmd), split))
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        dupes = sorted({c.label for c in cells if keys.count(c.key) > 1})
        raise ConfigError(f"cells with identical configs (two rows or datasets are the same): {dupes}")
    return cells


# ----------------------------------------------------------------------------- one cell
def results_path(results_dir: Path, cell: AblationCell) -> Path:
    """Where a cell's committed record goes: RESULTS/<dataset>/<row>/seed<k>.json."""
    return results_dir / cell.dataset.name / cell.row.name / f"seed{cell.seed}.json"


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)


def _eval_sets(cell: AblationCell) -> tuple[Path, Path, Path | None]:
    """(verification .bin, labelled face set, validation .bin or None) of a cell's dataset."""
    cfg = cell.config
    if cfg.data.source in ("synth", "synth-disk"):
        from clusterface.synth.writer import synth_paths

        paths = synth_paths(Path(cfg.synth.root))
        val_bin = paths.val_bin_path if paths.val_bin_path.is_file() else None  # when SynthFaces wrote one
        if cell.split == "val":
            if val_bin is None:
                raise FileNotFoundError(f"{cell.label}: no validation split in {cfg.synth.root} (val_fraction=0?)")
            return val_bin, paths.val_images_dir, val_bin
        return paths.bin_path, paths.test_images_dir, val_bin
    assert cell.dataset.verification_bin is not None and cell.dataset.cluster_set is not None
    return cell.dataset.verification_bin, cell.dataset.cluster_set, None


def _learning_curve(run_dir: Path) -> dict[str, Any]:
    """Training-loss history and periodic validation of a finished run (from its metrics.json)."""
    path = run_dir / "metrics.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    keys = ("loss", "cls", "scc", "align")
    history = [
        {"epoch": h["epoch"], **{k: round(float(h[k]), 5) for k in keys if k in h}} for h in data.get("history", [])
    ]
    evaluations = [
        {"epoch": e["epoch"], **{k: v for k, v in e.items() if k in ("accuracy", "accuracy_std")}}
        for e in data.get("evaluations", [])
    ]
    summary = data.get("summary", {})
    kept = ("encoder_momentum", "momentum_restart_step", "images_per_s", "data_wait_fraction", "nonfinite_steps")
    return {"history": history, "validation": evaluations, "summary": {k: summary[k] for k in kept if k in summary}}


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _train_cell(cell: AblationCell, run_dir: Path, progress: bool) -> tuple[Any, Any, Path]:
    """Train or resume a cell's run; returns (train result, training set, final checkpoint)."""
    from clusterface.training import CheckpointRotation, build_train_dataset, train

    cfg = cell.config
    _, _, val_bin = _eval_sets(cell)
    train_set = build_train_dataset(cfg)
    evaluate_fn = None
    if val_bin is not None and cfg.eval.every_epochs:  # learning curves on the validation split
        from clusterface.evaluation import evaluate_bin

        def evaluate_fn(model):  # type: ignore[no-untyped-def]
            res = evaluate_bin(model, val_bin, batch_size=cfg.eval.batch_size, flip=cfg.eval.flip, progress=False)
            return {k: v for k, v in res.items() if isinstance(v, int | float)}

    result = train(cfg, train_set, out_dir=run_dir, progress=progress, resume="auto", evaluate_fn=evaluate_fn)
    if result.status == "interrupted":
        raise StudyInterrupted(f"{cell.label}: training stopped at step {result.global_step}; rerun to continue")
    checkpoint = CheckpointRotation(run_dir / "checkpoints").latest()
    if checkpoint is None:
        raise RuntimeError(f"{cell.label}: training ended ({result.status}) without a checkpoint in {run_dir}")
    return result, train_set, checkpoint


def _evaluate_cell(cell: AblationCell, checkpoint: Path) -> tuple[Any, int]:
    """The standard evaluation of a cell's checkpoint on held-out identities; (ModelEvaluation, crops embedded)."""
    from clusterface.evaluation import load_embedder
    from clusterface.evaluation.caching_embedder import CachingEmbedder
    from clusterface.workflows.evaluation import evaluate_model, memory_arrays_from_checkpoint

    cfg = cell.config
    bin_path, cluster_set, _ = _eval_sets(cell)
    # the pairs and the clustering set share their images: embed each distinct crop once
    embedder = CachingEmbedder(load_embedder(checkpoint))
    ev = evaluate_model(
        embedder,
        bins=[bin_path],
        cluster=cluster_set,
        cluster_methods=STUDY_CLUSTER_METHODS,
        batch_size=cfg.eval.batch_size,
        flip=cfg.eval.flip,
        k=cfg.eval.knn_k,
        name=cell.row.name,
        progress=False,
    )
    ev.memory_phi, ev.memory_margins = memory_arrays_from_checkpoint(checkpoint) or (None, None)
    return ev, embedder.embedded


def run_cell(cell: AblationCell, study_dir: Path, progress: bool = False, side_by_side: int = 1) -> dict[str, Any]:
    """Train (or resume) and evaluate one cell; returns its record (also written to its result.json).

    Raises ``StudyInterrupted`` when training was stopped by a signal (the checkpoint is on disk).
    """
    from clusterface.analysis.cell_summary import summarize_evaluation

    cfg = cell.config
    cell_dir = study_dir / "cells" / cell.key
    t_wall, t_cpu = time.perf_counter(), _cpu_seconds()
    result, train_set, checkpoint = _train_cell(cell, cell_dir / "run", progress)
    t_eval = time.perf_counter()
    ev, embedded = _evaluate_cell(cell, checkpoint)
    record: dict[str, Any] = {
        "format": CELL_FORMAT,
        "key": cell.key,
        "dataset": cell.dataset.name,
        "dataset_spec": cell.dataset.spec,
        "row": cell.row.name,
        "row_config": cell.row.tree,
        "seed": cell.seed,
        "split": cell.split,
        "reproduce": cell.reproduce,
        "steps": result.global_step,
        "epochs": cfg.schedule.epochs,
        "num_train_classes": int(getattr(train_set, "num_classes", 0) or 0),
        "num_train_images": len(train_set),
        "cost": {
            # of this invocation: a resumed cell counts only the steps it ran now (steps_run says how many)
            "train_wall_s": round(t_eval - t_wall, 1),
            "eval_wall_s": round(time.perf_counter() - t_eval, 1),
            "cpu_s": round(_cpu_seconds() - t_cpu, 1),
            "steps_run": len(result.losses),
            "images_embedded": embedded,
            "torch_threads": _torch_threads(),
            # cells run in threads of one process: cpu_s is the process's, shared by this many cells
            "cells_side_by_side": side_by_side,
        },
        **summarize_evaluation(ev, STUDY_CLUSTER_METHODS),
        "learning_curve": _learning_curve(cell_dir / "run"),
        "config": config_to_dict(cfg),
    }
    _write_json_atomic(cell_dir / "result.json", record)
    return record


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


# ----------------------------------------------------------------------------- the study
def run_study(
    cells: Sequence[AblationCell],
    study_dir: str | Path = "runs/ablation",
    results_dir: str | Path = "results/ablation",
    *,
    jobs: int = 1,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> StudyResult:
    """Run every unfinished cell (``jobs`` side by side, threads split), skipping finished ones.

    Each finished cell's record is copied to ``results_dir/<dataset>/<row>/seed<k>.json``. A
    failing cell is reported (its traceback in ``cells/<hash>/error.txt``) and the others go on.
    Raises ``StudyInterrupted`` on Ctrl-C / SIGTERM after the running cell checkpointed.
    """
    from tqdm import tqdm

    study = Path(study_dir)
    results = Path(results_dir)
    say = log or (lambda text: tqdm.write(text))
    study.mkdir(parents=True, exist_ok=True)
    out = StudyResult(study_dir=study, results_dir=results)
    pending: list[AblationCell] = []
    for cell in cells:
        record = _finished_record(cell, study, results)
        if record is not None:
            _publish(record, results_path(results, cell))
            out.outcomes.append(CellOutcome(cell, "cached", record))
        else:
            pending.append(cell)
    _write_plan(study, cells)
    _prepare_datasets(pending, say)
    bar = tqdm(
        total=len(cells),
        initial=len(cells) - len(pending),  # tqdm's rate (and so the ETA) counts only the cells run now
        desc="ablation cells",
        unit="cell",
        disable=not progress,
        dynamic_ncols=True,
        mininterval=5.0,
    )

    def finish(outcome: CellOutcome) -> None:
        out.outcomes.append(outcome)
        if outcome.status == "done" and outcome.record is not None:
            _publish(outcome.record, results_path(results, outcome.cell))
            m = outcome.record["verification"]
            say(f"{outcome.cell.label}: accuracy {100 * m['accuracy']:.2f} % ({outcome.seconds / 60:.1f} min)")
        else:
            say(f"{outcome.cell.label}: FAILED: {outcome.error}")
        bar.update(1)

    try:
        if jobs <= 1 or len(pending) <= 1:
            for cell in pending:
                bar.set_postfix_str(cell.label, refresh=True)
                finish(_guarded(cell, study, progress))
        else:
            _run_side_by_side(pending, study, jobs, finish)
    finally:
        bar.close()
    return out


def _finished_record(cell: AblationCell, study: Path, results: Path) -> dict[str, Any] | None:
    """A finished cell's record: from the study directory, or else a committed record in ``results``
    whose key is the cell's (so a fresh checkout adds cells to a committed study without retraining)."""
    done = study / "cells" / cell.key / "result.json"
    if done.is_file():
        return dict(json.loads(done.read_text()))
    committed = results_path(results, cell)
    if not committed.is_file():
        return None
    try:
        record = json.loads(committed.read_text())
    except json.JSONDecodeError:
        return None  # a damaged record is recomputed (and replaced)
    if isinstance(record, dict) and record.get("format") == CELL_FORMAT and record.get("key") == cell.key:
        return record
    return None  # a record of another config (e.g. older code or other overrides) is recomputed


def _run_side_by_side(
    pending: Sequence[AblationCell], study: Path, jobs: int, finish: Callable[[CellOutcome], None]
) -> None:
    """``jobs`` cells at a time in threads, each with its share of the intra-op threads."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads // jobs))  # per OpenMP team: each running cell gets its share
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ablation-cell")
    try:
        running: set[Future[CellOutcome]] = {pool.submit(_guarded, c, study, False, jobs) for c in pending}
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                finish(f.result())
    except KeyboardInterrupt:
        # The trainer can catch signals only in the main thread: cells running in threads are stopped
        # with the process (the CLI exits at once) and resume from their last checkpoint on rerun.
        pool.shutdown(wait=False, cancel_futures=True)
        raise StudyInterrupted("stopped; running cells resume from their last checkpoint on rerun") from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        torch.set_num_threads(threads)


def _guarded(cell: AblationCell, study: Path, progress: bool = False, side_by_side: int = 1) -> CellOutcome:
    t0 = time.perf_counter()
    try:
        record = run_cell(cell, study, progress=progress, side_by_side=side_by_side)
    except StudyInterrupted:
        raise
    except KeyboardInterrupt:  # Ctrl-C outside training (its handler checkpoints), e.g. during evaluation
        raise StudyInterrupted(
            f"{cell.label}: stopped; rerun the same command to continue (training resumes from its "
            "newest checkpoint, an unfinished evaluation starts over)"
        ) from None
    except Exception as err:  # a failing cell is reported and the study goes on
        cell_dir = study / "cells" / cell.key
        cell_dir.mkdir(parents=True, exist_ok=True)
        (cell_dir / "error.txt").write_text(traceback.format_exc())
        return CellOutcome(cell, "failed", error=f"{type(err).__name__}: {err}", seconds=time.perf_counter() - t0)
    return CellOutcome(cell, "done", record, seconds=time.perf_counter() - t0)


def _publish(record: dict[str, Any], path: Path) -> None:
    """Copy a cell record to the results directory (replacing an older record of the same cell)."""
    if path.is_file():
        try:
            if json.loads(path.read_text()) == record:
                return
        except json.JSONDecodeError:
            pass
    _write_json_atomic(path, record)


def _write_plan(study: Path, cells: Sequence[AblationCell]) -> None:
    plan = [{"cell": c.label, "key": c.key, "reproduce": c.reproduce} for c in cells]
    (study / "plan.json").write_text(json.dumps(plan, indent=1) + "\n")


def _prepare_datasets(cells: Sequence[AblationCell], say: Callable[[str], None]) -> None:
    """Write each SynthFaces set the pending cells need, once, before any cell starts (threads share them)."""
    from clusterface.synth import generate_dataset

    seen: set[Path] = set()
    for cell in cells:
        cfg = cell.config
        if cfg.data.source in ("synth", "synth-disk") and Path(cfg.synth.root) not in seen:
            seen.add(Path(cfg.synth.root))
            say(f"SynthFaces {cell.dataset.name}: {cfg.synth.identities} identities -> {cfg.synth.root}")
            generate_dataset(cfg.synth, progress=False)
