"""The report of one model's evaluation: metrics.json, report.md / report.html, assignments and plots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clusterface.analysis import plots
from clusterface.analysis.report import (
    UNREACHABLE_NOTE,
    far_keys,
    fmt_pct,
    md_table,
    write_markdown_and_html,
    write_text_atomic,
)
from clusterface.analysis.results import ClusteringEvaluation, ModelEvaluation


def _verification_rows(ev: ModelEvaluation, fars: Sequence[str], prefix: str = "") -> list[list[str]]:
    rows = []
    for b in ev.bins:
        d = b.to_dict()
        rows.append(
            [
                prefix + b.name,
                str(d["num_pairs"]),
                fmt_pct(d["accuracy"], d["accuracy_std"]),
                f"{d['best_threshold']:.3f}",
                fmt_pct(d["val_at_far"]),
                *(fmt_pct(d["tar_at_far"].get(f)) for f in fars),
            ]
        )
    return rows


def _clustering_rows(c: ClusteringEvaluation, prefix: str = "") -> list[list[str]]:
    rows = []
    for m, a in c.assignments.items():
        s = c.scores.get(m)
        cells = [prefix + m, str(len(np.unique(a)))]
        if s is not None:
            cells += [
                f"{s['pairwise_precision']:.4f}",
                f"{s['pairwise_recall']:.4f}",
                f"{s['pairwise_fscore']:.4f}",
                f"{s['bcubed_precision']:.4f}",
                f"{s['bcubed_recall']:.4f}",
                f"{s['bcubed_fscore']:.4f}",
                f"{s['nmi']:.4f}",
            ]
        cells.append(f"{c.seconds.get(m, float('nan')):.2f}")
        rows.append(cells)
    return rows


_CLUSTER_HEADER = ["method", "clusters", "pair P", "pair R", "pair F", "BCubed P", "BCubed R", "BCubed F", "NMI", "s"]


def write_evaluation_report(ev: ModelEvaluation, out_dir: str | Path, title: str | None = None) -> dict[str, Path]:
    """Write metrics.json, report.md, report.html, assignments.csv and the PNGs for one model."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {"metrics": out / "metrics.json"}
    write_text_atomic(files["metrics"], json.dumps(ev.metrics(), indent=2) + "\n")
    fars = far_keys()
    md = [f"# {title or 'Evaluation of ' + ev.name}", ""]
    md += _verification_section(ev, fars, out, files)
    md += _ijb_section(ev, fars)
    md += _roc_section(ev, out, files)
    if ev.clustering is not None:
        md += _clustering_section(ev.clustering, out, files)
        if ev.clustering.labels is not None:
            md += _dispersion_section(ev.clustering, out, files)
    md += _memory_section(ev, out, files)
    md += [f"Evaluation took {ev.seconds:.1f} s.", ""]
    files["report"], files["html"] = write_markdown_and_html("\n".join(md), out, title or f"Evaluation of {ev.name}")
    return files


def _verification_section(ev: ModelEvaluation, fars: Sequence[str], out: Path, files: dict[str, Path]) -> list[str]:
    if not ev.bins:
        return []
    header = ["set", "pairs", "accuracy %", "best thr (‖e1−e2‖²)", "VAL@FAR=1e-3 %", *(f"TAR@{f} %" for f in fars)]
    md = ["## Verification (10-fold, flip test)", "", md_table(header, _verification_rows(ev, fars))]
    md += ["", UNREACHABLE_NOTE, ""]
    curves = {b.name: (b.scores, b.issame) for b in ev.bins}
    files["hist"] = plots.plot_similarity_histograms(curves, out / "similarity_histograms.png")
    return [*md, "![genuine vs impostor similarities](similarity_histograms.png)", ""]


def _ijb_section(ev: ModelEvaluation, fars: Sequence[str]) -> list[str]:
    if ev.ijb is None:
        return []
    d = ev.ijb.to_dict()
    row = [d["name"], d["num_images"], d["num_templates"], d["num_pairs"]]
    row += [fmt_pct(d["tar_at_far"].get(f)) for f in fars]
    header = ["set", "images", "templates", "pairs", *(f"TAR@{f} %" for f in fars)]
    return ["## IJB 1:1 verification (templates)", "", md_table(header, [row]), "", UNREACHABLE_NOTE, ""]


def _roc_section(ev: ModelEvaluation, out: Path, files: dict[str, Path]) -> list[str]:
    roc_curves: dict[str, tuple[NDArray[Any], NDArray[Any]]] = {b.name: (b.scores, b.issame) for b in ev.bins}
    if ev.ijb is not None:
        roc_curves[f"{ev.ijb.name} (templates)"] = (ev.ijb.scores, ev.ijb.labels)
    if not roc_curves:
        return []
    files["roc"] = plots.plot_roc(roc_curves, out / "roc.png")
    return ["![ROC](roc.png)", ""]


def _clustering_section(c: ClusteringEvaluation, out: Path, files: dict[str, Path]) -> list[str]:
    """Scores table, assignments.csv, the features (``clusterface cluster`` can re-cluster them), bars."""
    n_ids = len(np.unique(c.labels)) if c.labels is not None else "unknown"
    md = ["## Face clustering", ""]
    md.append(
        f"{len(c.item_names)} faces, {n_ids} identities, from {c.source}. kNN: k={c.options.k} "
        f"({c.options.knn_method}); cosine threshold {c.options.threshold:.3f} ({c.threshold_source}); "
        f"k-means with K = number of identities; NMI with arithmetic averaging; kNN graph {c.seconds['knn']:.2f} s."
    )
    md.append("")
    header = _CLUSTER_HEADER if c.scores else ["method", "clusters", "s"]
    md += [md_table(header, _clustering_rows(c)), ""]
    files["assignments"] = c.write_assignments(out / "assignments.csv")
    files["features"] = out / "cluster_features.npz"
    if c.labels is not None:
        np.savez(files["features"], features=c.features, labels=c.labels)
    else:
        np.savez(files["features"], features=c.features)
    if c.scores:
        files["clustering"] = plots.plot_clustering_scores(c.scores, out / "clustering.png")
        md += ["![clustering scores](clustering.png)", ""]
    return md


def _dispersion_section(c: ClusteringEvaluation, out: Path, files: dict[str, Path]) -> list[str]:
    """Hardest identities of the labelled clustering set, the φ histogram and the t-SNE map."""
    assert c.labels is not None
    ids, phi, counts = plots.class_dispersion(c.features, c.labels)
    names = [c.class_names[i] for i in ids] if c.class_names else [str(i) for i in ids]
    hardest = [
        [h["identity"], h["images"], f"{h['phi']:.4f}"] for h in plots.hardest_identities(phi, names, 10, counts)
    ]
    md = [
        "## Analysis",
        "",
        "Hardest identities of the clustering set (lowest concentration = largest φ, "
        "PCL's RMS dispersion of their embeddings, docs/method.md):",
        "",
        md_table(["identity", "images", "φ"], hardest),
        "",
    ]
    files["dispersion"] = plots.plot_concentration_histogram(phi, out / "dispersion.png")
    files["map"] = plots.plot_embedding_map(
        c.features, c.labels, out / "embedding_map.png", names=c.class_names or None
    )
    return [*md, "![dispersion](dispersion.png)", "", "![t-SNE map](embedding_map.png)", ""]


def _memory_section(ev: ModelEvaluation, out: Path, files: dict[str, Path]) -> list[str]:
    if ev.memory_phi is None or ev.memory_margins is None:
        return []
    files["margin"] = plots.plot_concentration_vs_margin(
        ev.memory_phi, ev.memory_margins, out / "concentration_vs_margin.png"
    )
    return [
        "## Training memory: concentration and margin",
        "",
        f"{len(ev.memory_phi)} training classes with a concentration estimate; margins "
        f"{ev.memory_margins.min():.3f}–{ev.memory_margins.max():.3f} rad.",
        "",
        "![concentration vs margin](concentration_vs_margin.png)",
        "",
    ]
