"""Several models side by side: metric tables, overlaid ROC curves, similarity histograms, clustering bars."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clusterface.analysis import plots
from clusterface.analysis.report import (
    UNREACHABLE_NOTE,
    far_keys,
    fmt_pct,
    md_table,
    write_markdown_and_html,
    write_text_atomic,
)
from clusterface.analysis.results import ModelEvaluation


def write_comparison_report(
    results: Mapping[str, ModelEvaluation | Mapping[str, Any]],
    out_dir: str | Path,
    title: str = "Model comparison",
    note: str | None = None,
) -> dict[str, Path]:
    """Put several models side by side: tables of every metric and, for ModelEvaluation inputs,
    overlaid ROC curves, similarity histograms per model and clustering bars.

    ``results``: {model name: ModelEvaluation, or its ``metrics()`` dict}. Writes comparison.json,
    report.md, report.html and PNGs to ``out_dir``. ``note``: a paragraph under the title (e.g. how
    to read the comparison).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {name: (r.metrics() if isinstance(r, ModelEvaluation) else dict(r)) for name, r in results.items()}
    files: dict[str, Path] = {"metrics": out / "comparison.json"}
    write_text_atomic(files["metrics"], json.dumps(metrics, indent=2) + "\n")
    fars = far_keys()
    evals = {n: r for n, r in results.items() if isinstance(r, ModelEvaluation)}
    md = [f"# {title}", ""]
    if note:
        md += [note, ""]
    md += _verification_table(metrics, fars)
    md += _ijb_table(metrics, fars)
    md += _clustering_table(metrics, out, files)
    md += _per_set_plots(evals, out, files)
    md += _memory_plots(evals, out, files)
    files["report"], files["html"] = write_markdown_and_html("\n".join(md), out, title)
    return files


def _verification_table(metrics: Mapping[str, Mapping[str, Any]], fars: Sequence[str]) -> list[str]:
    rows = []
    for name, m in metrics.items():
        for set_name, d in m.get("verification", {}).items():
            rows.append(
                [
                    name,
                    set_name,
                    fmt_pct(d["accuracy"], d["accuracy_std"]),
                    f"{d['best_threshold']:.3f}",
                    fmt_pct(d["val_at_far"]),
                    *(fmt_pct(d["tar_at_far"].get(f)) for f in fars),
                ]
            )
    if not rows:
        return []
    header = ["model", "set", "accuracy %", "best thr", "VAL@1e-3 %", *(f"TAR@{f} %" for f in fars)]
    return ["## Verification (10-fold, flip test)", "", md_table(header, rows), "", UNREACHABLE_NOTE, ""]


def _ijb_table(metrics: Mapping[str, Mapping[str, Any]], fars: Sequence[str]) -> list[str]:
    rows = [
        [n, m["ijb"]["name"], *(fmt_pct(m["ijb"]["tar_at_far"].get(f)) for f in fars)]
        for n, m in metrics.items()
        if "ijb" in m
    ]
    if not rows:
        return []
    return ["## IJB 1:1", "", md_table(["model", "set", *(f"TAR@{f} %" for f in fars)], rows), ""]


def _clustering_table(metrics: Mapping[str, Mapping[str, Any]], out: Path, files: dict[str, Path]) -> list[str]:
    rows = []
    bar_scores: dict[str, dict[str, float]] = {}
    for name, m in metrics.items():
        for method, d in m.get("clustering", {}).get("methods", {}).items():
            s = d.get("scores")
            if s is None:
                continue
            rows.append(
                [
                    name,
                    method,
                    d["num_clusters"],
                    f"{s['pairwise_fscore']:.4f}",
                    f"{s['bcubed_fscore']:.4f}",
                    f"{s['nmi']:.4f}",
                ]
            )
            bar_scores[f"{name}/{method}"] = s
    if not rows:
        return []
    md = ["## Face clustering", "", md_table(["model", "method", "clusters", "pair F", "BCubed F", "NMI"], rows), ""]
    files["clustering"] = plots.plot_clustering_scores(bar_scores, out / "clustering.png")
    return [*md, "![clustering](clustering.png)", ""]


def _per_set_plots(evals: Mapping[str, ModelEvaluation], out: Path, files: dict[str, Path]) -> list[str]:
    """Per verification set: every model's ROC and similarity histograms overlaid."""
    md: list[str] = []
    for set_name in sorted({b.name for r in evals.values() for b in r.bins}):
        curves = {n: (b.scores, b.issame) for n, r in evals.items() for b in r.bins if b.name == set_name}
        files[f"roc_{set_name}"] = plots.plot_roc(curves, out / f"roc_{set_name}.png", title=f"ROC on {set_name}")
        files[f"hist_{set_name}"] = plots.plot_similarity_histograms(
            curves, out / f"hist_{set_name}.png", title=f"Pair similarities on {set_name}"
        )
        md += [
            f"### {set_name}",
            "",
            f"![ROC {set_name}](roc_{set_name}.png)",
            "",
            f"![similarities {set_name}](hist_{set_name}.png)",
            "",
        ]
    return md


def _memory_plots(evals: Mapping[str, ModelEvaluation], out: Path, files: dict[str, Path]) -> list[str]:
    """Concentration vs margin of each model whose checkpoint holds a class-centre memory."""
    md: list[str] = []
    for n, r in evals.items():
        if r.memory_phi is None or r.memory_margins is None:
            continue
        safe = "".join(ch if ch.isalnum() else "_" for ch in n)
        files[f"margin_{safe}"] = plots.plot_concentration_vs_margin(
            r.memory_phi, r.memory_margins, out / f"margin_{safe}.png", title=f"{n}: concentration and margin"
        )
        md += [f"![{n} margins](margin_{safe}.png)", ""]
    return md
