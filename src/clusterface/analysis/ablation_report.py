"""The ablation report: ``ablation.md`` + self-contained ``ablation.html`` + ``ablation.json`` (+ PNG plots).

Built only from cell records (``ablation_summary.load_cell_records``), so the same tables come
back from the committed ``results/`` directory with ``clusterface ablate --report-only``. Where a
paired interval contains 0 the text says "no detectable difference", never "better".
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clusterface.analysis import ablation_plots, plots
from clusterface.analysis.ablation_summary import METRICS, Metric, summarize_study
from clusterface.analysis.report import md_table, write_markdown_and_html


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def fmt_interval(iv: Mapping[str, Any], metric: Metric, signed: bool = False) -> str:
    """'90.12 ± 0.34' (mean ± half-width of the 95 % interval); 'n/a' when not measured; no ± with one seed."""
    mean = _num(iv.get("mean"))
    if math.isnan(mean):
        return "n/a"
    sign = "+" if signed else ""
    text = f"{metric.scale * mean:{sign}.{metric.digits}f}"
    low, high = _num(iv.get("low")), _num(iv.get("high"))
    if math.isnan(low) or math.isnan(high):
        return text
    return f"{text} ± {metric.scale * (high - low) / 2:.{metric.digits}f}"


def _paired_cell(p: Mapping[str, Any], metric: Metric) -> str:
    if not p or p.get("n", 0) == 0:
        return "n/a"
    low, high = _num(p.get("low")), _num(p.get("high"))
    span = (
        f" [{metric.scale * low:+.{metric.digits}f}, {metric.scale * high:+.{metric.digits}f}]"
        if not (math.isnan(low) or math.isnan(high))
        else ""
    )
    return f"{metric.scale * _num(p['mean']):+.{metric.digits}f}{span} ({p['wins']}/{p['n']} won)"


def _verdict_word(p: Mapping[str, Any]) -> str:
    v = str(p.get("verdict", "not measured"))
    return {"wins": "**wins**", "loses": "**loses**"}.get(v, v)


def _setup_md(ds: Mapping[str, Any]) -> list[str]:
    setup = ds["setup"]
    md = [
        f"Data `{setup.get('dataset_spec')}`: {setup.get('train_classes')} training identities "
        f"({setup.get('train_images')} images), held out ({setup.get('split', 'test')} split): "
        f"{setup.get('test_identities')} identities, "
        f"{setup.get('test_faces')} faces, {setup.get('test_pairs')} verification pairs. "
        f"Backbone {setup.get('backbone')}, {setup.get('epochs')} epochs ({setup.get('steps')} steps).",
        "",
    ]
    unreachable = setup.get("tar_unreachable") or {}
    if unreachable:
        md += [f"TAR@{k}: n/a — {v}" for k, v in unreachable.items()] + [""]
    return md


def _metric_tables_md(ds: Mapping[str, Any]) -> list[str]:
    rows, base = list(ds["rows"]), ds["baseline"]
    others = [r for r in rows if r != base]
    return [
        "### Mean over seeds ± half-width of the 95 % Student-t interval",
        "",
        md_table(
            ["row", "seeds", *(m.label for m in METRICS)],
            [
                [r, len(ds["rows"][r]["seeds"]), *(fmt_interval(ds["rows"][r]["metrics"][m.key], m) for m in METRICS)]
                for r in rows
            ],
        ),
        "",
        f"### Paired difference to `{base}` (same seed): mean [95 % interval] (seeds won)",
        "",
        md_table(
            ["row", *(m.label for m in METRICS)],
            [[r, *(_paired_cell(ds["rows"][r]["paired"].get(m.key, {}), m) for m in METRICS)] for r in others],
        ),
        "",
        f"### Verdict against `{base}` (wins / loses only where the paired interval excludes 0)",
        "",
        md_table(
            ["row", *(m.label for m in METRICS)],
            [[r, *(_verdict_word(ds["rows"][r]["paired"].get(m.key, {})) for m in METRICS)] for r in others],
        ),
        "",
    ]


def _difficulty_md(ds: Mapping[str, Any]) -> list[str]:
    diff, base = ds["difficulty"], ds["baseline"]
    if not diff["rows"]:
        return []
    q = len(diff["baseline_nn1"])
    pct = Metric("nn1", "", ())
    return [
        "### Gain by identity difficulty",
        "",
        f"Held-out identities split into quartiles of {diff['quartile_of']}, per seed. Cells: per-identity "
        f"leave-one-out 1-NN identification accuracy, row − {base}, in points (mean ± 95 % interval over seeds).",
        "",
        md_table(
            ["row", *(f"Q{i + 1}" for i in range(q))],
            [[f"{base} (accuracy itself)", *(fmt_interval(iv, pct) for iv in diff["baseline_nn1"])]]
            + [[r, *(fmt_interval(iv, pct, signed=True) for iv in diff["rows"][r])] for r in diff["rows"]],
        ),
        "",
    ]


def _separation_md(ds: Mapping[str, Any]) -> list[str]:
    one, deg = Metric("x", "", (), 1.0, 3), Metric("x", "", (), 1.0, 2)
    cols = [
        ("similarity", "genuine_mean", one),
        ("similarity", "impostor_mean", one),
        ("similarity", "d_prime", one),
        ("angles", "intra_mean_deg", deg),
        ("angles", "inter_nearest_mean_deg", deg),
        ("angles", "inter_mean_deg", deg),
    ]
    return [
        "### Similarity distributions and angles (held-out identities)",
        "",
        "Genuine / impostor cosine similarity of the verification pairs and their separation "
        "d′ = (μ_g − μ_i)/√((σ_g² + σ_i²)/2); angles between each face and its identity's mean direction "
        "(intra) and between identity mean directions (nearest other identity, all pairs).",
        "",
        md_table(
            ["row", "genuine μ", "impostor μ", "d′", "intra angle °", "nearest identity °", "inter angle °"],
            [[r, *(fmt_interval(row[g][k], m) for g, k, m in cols)] for r, row in ds["rows"].items()],
        ),
        "",
    ]


def _cost_md(ds: Mapping[str, Any]) -> list[str]:
    def minutes(iv: Mapping[str, Any]) -> str:
        return f"{_num(iv['mean']) / 60:.1f}" if iv["n"] else "n/a"

    keys = ("train_wall_s", "eval_wall_s", "cpu_s")
    return [
        "### Cost per cell (this machine; cells that ran without a resume)",
        "",
        md_table(
            ["row", "cells", "train min", "evaluation min", "CPU-min (this process)"],
            [
                [r, row["cost"]["cells_measured"], *(minutes(row["cost"][k]) for k in keys)]
                for r, row in ds["rows"].items()
            ],
        ),
        "",
        "### Reproduce a cell",
        "",
        md_table(
            ["row", "seed", "cell hash", "command"],
            [[r, c["seed"], c["key"], f"`{c['reproduce']}`"] for r, row in ds["rows"].items() for c in row["cells"]],
        ),
        "",
    ]


def conclusion_md(ds: Mapping[str, Any], row: str | None) -> list[str]:
    """One row against the baseline, metric by metric: paired difference and verdict."""
    if row is None:
        raise ValueError("the conclusion section needs the row to conclude on (row=NAME)")
    if row not in ds["rows"] or row == ds["baseline"]:
        raise ValueError(f"no row {row!r} to compare with {ds['baseline']!r} (rows: {', '.join(ds['rows'])})")
    paired = ds["rows"][row]["paired"]
    return [
        f"### Conclusion per metric: `{row}` − `{ds['baseline']}`",
        "",
        md_table(
            ["metric", "paired difference [95 % interval] (seeds won)", "verdict"],
            [[m.label, _paired_cell(paired.get(m.key, {}), m), _verdict_word(paired.get(m.key, {}))] for m in METRICS],
        ),
        "",
    ]


#: The parts of a dataset's section, in report order (``dataset_sections_md`` picks some of them).
SECTIONS = {
    "setup": _setup_md,
    "metrics": _metric_tables_md,
    "difficulty": _difficulty_md,
    "separation": _separation_md,
    "cost": _cost_md,
}


def dataset_sections_md(ds: Mapping[str, Any], sections: Sequence[str], row: str | None = None) -> list[str]:
    """Markdown lines of the named parts (keys of ``SECTIONS``, or ``conclusion`` for ``row`` against
    the baseline) of one dataset's summary, in that order."""
    parts = {**SECTIONS, "conclusion": lambda d: conclusion_md(d, row)}
    unknown = [s for s in sections if s not in parts]
    if unknown:
        raise ValueError(f"unknown report section(s) {unknown}; choose from {', '.join(parts)}")
    return [line for s in sections for line in parts[s](ds)]


def _dataset_markdown(name: str, ds: Mapping[str, Any], images: Mapping[str, str]) -> list[str]:
    md = [f"## Dataset `{name}`", "", *_setup_md(ds), *_metric_tables_md(ds), *_difficulty_md(ds)]
    md += [*_separation_md(ds), *_cost_md(ds)]
    if images:
        md += ["### Plots", ""] + [f"![{alt}]({src})\n" for alt, src in images.items()]
    return md


def write_ablation_report(
    records: Sequence[dict[str, Any]],
    out_dir: str | Path,
    baseline: str | None = None,
    plots_too: bool = True,
    title: str = "Ablation study",
    stem: str = "ablation",
) -> dict[str, Path]:
    """Write ``stem``.md / .html / .json into ``out_dir`` (and the PNGs when ``plots_too``); return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize_study(records, baseline)
    files: dict[str, Path] = {}
    md = [
        f"# {title}",
        "",
        "Every row of a seed trains from the same initial weights on the same batches; rows are compared "
        "paired by seed. Intervals: 95 %, Student t over seeds. Where a paired interval contains 0 the "
        "verdict is 'no detectable difference'. For every metric a larger value is the stronger result.",
        "",
    ]
    for ds_name, ds in summary["datasets"].items():
        images: dict[str, str] = {}
        if plots_too:
            images = _dataset_plots(ds_name, ds, [r for r in records if r["dataset"] == ds_name], out, files)
        md += _dataset_markdown(ds_name, ds, images)
    files["json"] = out / f"{stem}.json"
    files["json"].write_text(json.dumps(summary, indent=1, default=_json_default) + "\n")
    files["md"], files["html"] = write_markdown_and_html("\n".join(md), out, title, stem=stem)
    return files


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dataset_plots(
    name: str, ds: Mapping[str, Any], records: Sequence[dict[str, Any]], out: Path, files: dict[str, Path]
) -> dict[str, str]:
    images: dict[str, str] = {}

    def add(key: str, path: Path, alt: str) -> None:
        files[key] = path
        images[alt] = path.name

    add(f"bars_{name}", ablation_plots.plot_metric_bars(ds, out / f"{name}_bars.png"), f"{name}: metrics")
    if len(ds["rows"]) > 1:
        add(
            f"paired_{name}",
            ablation_plots.plot_paired_differences(ds, out / f"{name}_paired.png"),
            f"{name}: paired differences",
        )
    curves: dict[str, list[dict[str, Any]]] = defaultdict(list)
    hists: dict[str, dict[str, Any]] = {}
    for rec in records:
        curves[rec["row"]].append(rec.get("learning_curve") or {})
        sim = rec.get("similarity")
        if sim:
            h = hists.setdefault(
                rec["row"],
                {"bins": sim["bins"], "genuine_counts": 0, "impostor_counts": 0, "d_prime": 0.0, "n": 0},
            )
            h["genuine_counts"] = np.add(h["genuine_counts"], sim["genuine_counts"])
            h["impostor_counts"] = np.add(h["impostor_counts"], sim["impostor_counts"])
            h["d_prime"] += _num(sim.get("d_prime"))
            h["n"] += 1
    for h in hists.values():
        h["d_prime"] /= max(h["n"], 1)
    add(f"curves_{name}", ablation_plots.plot_learning_curves(curves, out / f"{name}_curves.png"), f"{name}: curves")
    if hists:
        add(
            f"similarity_{name}",
            ablation_plots.plot_similarity_counts(hists, out / f"{name}_similarity.png"),
            f"{name}: similarity distributions (all seeds)",
        )
    if ds["difficulty"]["rows"]:
        add(
            f"difficulty_{name}",
            ablation_plots.plot_difficulty(ds["difficulty"], out / f"{name}_difficulty.png"),
            f"{name}: gain by identity difficulty",
        )
    for row in ds["rows"]:
        with_memory = [r for r in records if r["row"] == row and (r.get("memory") or {}).get("phi")]
        if not with_memory:
            continue
        rec = with_memory[0]
        phi = np.array([_num(v) for v in rec["memory"]["phi"]])
        margin = np.array([_num(v) for v in rec["memory"]["margin"]])
        if np.ptp(margin[np.isfinite(margin)]) <= 0:  # rows without a cluster-guided margin: nothing to show
            continue
        path = plots.plot_concentration_vs_margin(
            phi, margin, out / f"{name}_margin_{row}.png", title=f"{row}, seed {rec['seed']}"
        )
        add(f"margin_{name}_{row}", path, f"{name}: margin vs concentration, {row}")
    return images
