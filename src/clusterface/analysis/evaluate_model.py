"""Evaluate one model end to end (verification, IJB, clustering, analysis) and write its report.

``evaluate_model`` computes; ``write_evaluation_report`` writes ``metrics.json``, ``report.md``,
a self-contained ``report.html`` and the PNG plots; ``write_comparison_report`` puts several
models side by side (the demo's ArcFace vs full method).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from torch import nn

from clusterface.analysis import plots
from clusterface.analysis.report import fmt_pct, md_table, write_markdown_and_html
from clusterface.clustering import ClusteringOptions, build_knn, cluster_features, clustering_scores
from clusterface.clustering.face_set import load_face_set
from clusterface.clustering.knn import KnnMethod
from clusterface.clustering.pipeline import DEFAULT_SIMILARITY_THRESHOLD
from clusterface.config.schema import EvalConfig
from clusterface.evaluation import (
    DEFAULT_FARS,
    Embedder,
    IJBResult,
    PairEvaluation,
    as_embedder,
    evaluate_ijb,
    extract_embeddings,
    score_bin,
)

DEFAULT_CLUSTER_METHODS: tuple[str, ...] = EvalConfig().cluster_methods


@dataclass
class ClusteringEvaluation:
    """Clustering of one face set with several methods; scores only when the set has labels."""

    source: str
    item_names: list[str]
    labels: NDArray[np.int64] | None
    class_names: list[str]
    features: NDArray[np.float32] = field(repr=False)
    options: ClusteringOptions
    threshold_source: str
    assignments: dict[str, NDArray[np.int64]] = field(default_factory=dict, repr=False)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "num_faces": len(self.item_names),
            "num_identities": len(np.unique(self.labels)) if self.labels is not None else None,
            "threshold": self.options.threshold,
            "threshold_source": self.threshold_source,
            "knn": {"k": self.options.k, "method": self.options.knn_method},
            "methods": {
                m: {
                    **({"scores": self.scores[m]} if m in self.scores else {}),
                    "seconds": self.seconds.get(m),
                    "num_clusters": len(np.unique(a)),
                }
                for m, a in self.assignments.items()
            },
            "nmi_averaging": "arithmetic",
        }

    def write_assignments(self, path: Path) -> Path:
        """CSV: item, one column per method (cluster id), and the true label when known."""
        path.parent.mkdir(parents=True, exist_ok=True)
        methods = list(self.assignments)
        header = ["item", *methods] + (["label"] if self.labels is not None else [])
        with path.open("w") as f:
            f.write(",".join(header) + "\n")
            for i, name in enumerate(self.item_names):
                row = [name.replace(",", "_"), *(str(int(self.assignments[m][i])) for m in methods)]
                if self.labels is not None:
                    lab = int(self.labels[i])
                    row.append(self.class_names[lab] if self.class_names else str(lab))
                f.write(",".join(row) + "\n")
        return path


@dataclass
class ModelEvaluation:
    """Everything measured for one model, with the arrays the plots need."""

    name: str
    bins: list[PairEvaluation] = field(default_factory=list)
    ijb: IJBResult | None = None
    clustering: ClusteringEvaluation | None = None
    memory_phi: NDArray[np.float64] | None = None
    memory_margins: NDArray[np.float64] | None = None
    seconds: float = 0.0

    def metrics(self) -> dict[str, Any]:
        """JSON-ready metrics (fractions in [0, 1])."""
        out: dict[str, Any] = {"model": self.name, "verification": {b.name: b.to_dict() for b in self.bins}}
        if self.ijb is not None:
            out["ijb"] = self.ijb.to_dict()
        if self.clustering is not None:
            out["clustering"] = self.clustering.to_dict()
            if self.clustering.labels is not None:
                ids, phi, counts = plots.class_dispersion(self.clustering.features, self.clustering.labels)
                names = [self.clustering.class_names[i] for i in ids] if self.clustering.class_names else None
                out["hardest_identities"] = plots.hardest_identities(phi, names, n=10, counts=counts)
        if self.memory_phi is not None and self.memory_margins is not None:
            out["memory"] = {
                "classes": len(self.memory_phi),
                "phi_mean": float(np.mean(self.memory_phi)),
                "margin_min": float(np.min(self.memory_margins)),
                "margin_max": float(np.max(self.memory_margins)),
                "hardest_classes": plots.hardest_identities(self.memory_phi, n=10),
            }
        out["seconds"] = self.seconds
        return out


def memory_arrays_from_checkpoint(path: str | Path) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """(φ, margins) of the known classes stored in a training checkpoint's class-centre memory, if any.

    Looks for tensors whose keys end in ``concentration``, ``margins`` (and ``has_concentration``)
    anywhere in the checkpoint, so it does not depend on how the trainer nests its state.
    """
    import torch

    from clusterface.training import load_checkpoint

    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return None
    state = load_checkpoint(path)
    found: dict[str, torch.Tensor] = {}

    def walk(obj: object) -> None:
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                if isinstance(value, torch.Tensor) and isinstance(key, str):
                    for suffix in ("has_concentration", "concentration", "margins"):
                        if key.endswith(suffix) and suffix not in found:
                            found[suffix] = value
                            break
                else:
                    walk(value)

    walk({k: v for k, v in state.items() if k not in ("backbone", "config")})
    if "concentration" not in found or "margins" not in found:
        return None
    phi = found["concentration"].double().cpu().numpy()
    margins = found["margins"].double().cpu().numpy()
    if phi.shape != margins.shape:
        return None
    known = found["has_concentration"].bool().cpu().numpy() if "has_concentration" in found else np.ones(len(phi), bool)
    if not known.any():
        return None
    return phi[known], margins[known]


def cluster_face_set(
    source: str | Path,
    model: nn.Module | Embedder | str | Path | None = None,
    methods: Sequence[str] = DEFAULT_CLUSTER_METHODS,
    threshold: float | None = None,
    threshold_source: str | None = None,
    num_clusters: int | None = None,
    k: int = 20,
    knn_method: KnnMethod = "exact",
    batch_size: int = 128,
    flip: bool = True,
    progress: bool = True,
    seed: int = 0,
) -> ClusteringEvaluation:
    """Embed (unless given features) and cluster a face set with each method; score when labels exist.

    k-means needs K: ``num_clusters``, else the number of labelled identities (skipped when neither).
    """
    source = Path(source)
    face_set = load_face_set(source)
    if face_set.features is not None:
        feats = face_set.features
        feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    else:
        if model is None:
            raise ValueError(f"{source}: clustering images needs a model (checkpoint or ONNX)")
        encoded = [p.read_bytes() for p in face_set.paths]
        feats = extract_embeddings(
            as_embedder(model), encoded, flip=flip, batch_size=batch_size, progress=progress, desc=source.name
        )
    root = source if source.is_dir() else None
    opts = ClusteringOptions(
        threshold=DEFAULT_SIMILARITY_THRESHOLD if threshold is None else threshold,
        num_clusters=num_clusters,
        k=k,
        knn_method=knn_method,
        seed=seed,
    )
    result = ClusteringEvaluation(
        source=str(source),
        item_names=face_set.item_names(root),
        labels=face_set.labels,
        class_names=face_set.class_names,
        features=np.asarray(feats, dtype=np.float32),
        options=opts,
        threshold_source=threshold_source or ("given" if threshold is not None else "default"),
    )
    t0 = time.perf_counter()
    knn = build_knn(result.features, k=k, method=knn_method, seed=seed)
    result.seconds["knn"] = time.perf_counter() - t0
    for method in methods:
        method_opts = opts
        if method == "kmeans":
            kk = num_clusters or (len(np.unique(face_set.labels)) if face_set.labels is not None else None)
            if kk is None:
                continue
            method_opts = ClusteringOptions(**{**opts.__dict__, "num_clusters": kk})
        elif method == "agglomerative":
            method_opts = ClusteringOptions(**{**opts.__dict__, "num_clusters": None})
        t0 = time.perf_counter()
        assign = cluster_features(result.features, method, method_opts, knn=knn)
        result.seconds[method] = time.perf_counter() - t0
        result.assignments[method] = assign
        if face_set.labels is not None:
            result.scores[method] = clustering_scores(assign, face_set.labels)
    return result


def clustering_threshold_from(pairs: PairEvaluation) -> tuple[float, str]:
    """A cosine threshold for the graph clustering methods from a verification set.

    The score threshold at FAR = 1e-3 (else 1e-2) when the set has enough impostor pairs: clustering
    N faces of K identities meets ~K impostors per genuine pair, so the verification threshold of best
    accuracy (balanced pairs) links far too many impostors and chains identities together. Falls
    back to the cosine equivalent 1 − d/2 of the 10-fold best distance threshold.
    """
    by_far = {t.far: t for t in pairs.tar}
    for far in (1e-3, 1e-2):
        t = by_far.get(far)
        if t is not None and t.threshold is not None and np.isfinite(t.threshold):
            return float(t.threshold), f"{pairs.name}: score threshold at FAR={far:g}"
    return 1.0 - pairs.verification.best_threshold / 2.0, f"{pairs.name}: 10-fold best threshold"


def evaluate_model(
    model: nn.Module | Embedder | str | Path,
    bins: Sequence[str | Path] = (),
    ijb: str | Path | None = None,
    ijb_name: str | None = None,
    ijb_image_dir: str | Path | None = None,
    cluster: str | Path | None = None,
    cluster_methods: Sequence[str] = DEFAULT_CLUSTER_METHODS,
    threshold: float | None = None,
    k: int = 20,
    knn_method: KnnMethod = "exact",
    batch_size: int = 128,
    flip: bool = True,
    fars: Sequence[float] = DEFAULT_FARS,
    name: str | None = None,
    progress: bool = True,
) -> ModelEvaluation:
    """Run every protocol that has data. The clustering threshold, unless given, comes from the first
    .bin set (``clustering_threshold_from``), else 0.5."""
    t_start = time.perf_counter()
    label = name or (Path(model).stem if isinstance(model, str | Path) else type(model).__name__)
    embedder = as_embedder(model)
    ev = ModelEvaluation(name=label)
    for b in bins:
        ev.bins.append(score_bin(embedder, b, batch_size=batch_size, flip=flip, fars=fars, progress=progress))
    if ijb is not None:
        ev.ijb = evaluate_ijb(
            embedder,
            ijb,
            name=ijb_name,
            image_dir=ijb_image_dir,
            batch_size=batch_size,
            flip=flip,
            fars=fars,
            progress=progress,
        )
    if cluster is not None:
        source = "given"
        if threshold is None and ev.bins:
            threshold, source = clustering_threshold_from(ev.bins[0])
        ev.clustering = cluster_face_set(
            cluster,
            embedder,
            cluster_methods,
            threshold=threshold,
            threshold_source=source if threshold is not None else None,
            k=k,
            knn_method=knn_method,
            batch_size=batch_size,
            flip=flip,
            progress=progress,
        )
    if isinstance(model, str | Path):
        arrays = memory_arrays_from_checkpoint(model)
        if arrays is not None:
            ev.memory_phi, ev.memory_margins = arrays
    ev.seconds = time.perf_counter() - t_start
    return ev


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


def _far_keys(fars: Sequence[float] = DEFAULT_FARS) -> list[str]:
    return [f"{f:.0e}" for f in fars]


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
_UNREACHABLE_NOTE = "n/a: the set has too few impostor pairs to measure that FAR (at least 1/FAR are needed)."


def write_evaluation_report(ev: ModelEvaluation, out_dir: str | Path, title: str | None = None) -> dict[str, Path]:
    """Write metrics.json, report.md, report.html, assignments.csv and the PNGs for one model."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    metrics = ev.metrics()
    files["metrics"] = out / "metrics.json"
    files["metrics"].write_text(json.dumps(metrics, indent=2) + "\n")
    fars = _far_keys()
    md = [f"# {title or 'Evaluation of ' + ev.name}", ""]
    if ev.bins:
        md += ["## Verification (10-fold, flip test)", ""]
        md.append(
            md_table(
                ["set", "pairs", "accuracy %", "best thr (‖e1−e2‖²)", "VAL@FAR=1e-3 %", *(f"TAR@{f} %" for f in fars)],
                _verification_rows(ev, fars),
            )
        )
        md += ["", _UNREACHABLE_NOTE, ""]
        curves = {b.name: (b.scores, b.issame) for b in ev.bins}
        files["hist"] = plots.plot_similarity_histograms(curves, out / "similarity_histograms.png")
        md += ["![genuine vs impostor similarities](similarity_histograms.png)", ""]
    roc_curves: dict[str, tuple[NDArray[Any], NDArray[Any]]] = {b.name: (b.scores, b.issame) for b in ev.bins}
    if ev.ijb is not None:
        d = ev.ijb.to_dict()
        md += ["## IJB 1:1 verification (templates)", ""]
        md.append(
            md_table(
                ["set", "images", "templates", "pairs", *(f"TAR@{f} %" for f in fars)],
                [
                    [
                        d["name"],
                        d["num_images"],
                        d["num_templates"],
                        d["num_pairs"],
                        *(fmt_pct(d["tar_at_far"].get(f)) for f in fars),
                    ]
                ],
            )
        )
        md += ["", _UNREACHABLE_NOTE, ""]
        roc_curves[f"{ev.ijb.name} (templates)"] = (ev.ijb.scores, ev.ijb.labels)
    if roc_curves:
        files["roc"] = plots.plot_roc(roc_curves, out / "roc.png")
        md += ["![ROC](roc.png)", ""]
    c = ev.clustering
    if c is not None:
        md += ["## Face clustering", ""]
        n_ids = len(np.unique(c.labels)) if c.labels is not None else "unknown"
        md.append(
            f"{len(c.item_names)} faces, {n_ids} identities, from {c.source}. kNN: k={c.options.k} "
            f"({c.options.knn_method}); cosine threshold {c.options.threshold:.3f} ({c.threshold_source}); "
            f"k-means with K = number of identities; NMI with arithmetic averaging; kNN graph {c.seconds['knn']:.2f} s."
        )
        md.append("")
        header = _CLUSTER_HEADER if c.scores else ["method", "clusters", "s"]
        md += [md_table(header, _clustering_rows(c)), ""]
        files["assignments"] = c.write_assignments(out / "assignments.csv")
        # the features, so that `clusterface cluster cluster_features.npz` can try other methods/thresholds
        files["features"] = out / "cluster_features.npz"
        if c.labels is not None:
            np.savez(files["features"], features=c.features, labels=c.labels)
        else:
            np.savez(files["features"], features=c.features)
        if c.scores:
            files["clustering"] = plots.plot_clustering_scores(c.scores, out / "clustering.png")
            md += ["![clustering scores](clustering.png)", ""]
        if c.labels is not None:
            ids, phi, counts = plots.class_dispersion(c.features, c.labels)
            names = [c.class_names[i] for i in ids] if c.class_names else [str(i) for i in ids]
            md += [
                "## Analysis",
                "",
                "Hardest identities of the clustering set (lowest concentration = largest φ, "
                "PCL's RMS dispersion of their embeddings, METHOD.md):",
                "",
            ]
            md.append(
                md_table(
                    ["identity", "images", "φ"],
                    [
                        [h["identity"], h["images"], f"{h['phi']:.4f}"]
                        for h in plots.hardest_identities(phi, names, 10, counts)
                    ],
                )
            )
            md.append("")
            files["dispersion"] = plots.plot_concentration_histogram(phi, out / "dispersion.png")
            files["map"] = plots.plot_embedding_map(
                c.features, c.labels, out / "embedding_map.png", names=c.class_names or None
            )
            md += ["![dispersion](dispersion.png)", "", "![t-SNE map](embedding_map.png)", ""]
    if ev.memory_phi is not None and ev.memory_margins is not None:
        md += ["## Training memory: concentration and margin", ""]
        files["margin"] = plots.plot_concentration_vs_margin(
            ev.memory_phi, ev.memory_margins, out / "concentration_vs_margin.png"
        )
        md += [
            f"{len(ev.memory_phi)} training classes with a concentration estimate; margins "
            f"{ev.memory_margins.min():.3f}–{ev.memory_margins.max():.3f} rad.",
            "",
            "![concentration vs margin](concentration_vs_margin.png)",
            "",
        ]
    md += [f"Evaluation took {ev.seconds:.1f} s.", ""]
    files["report"], files["html"] = write_markdown_and_html("\n".join(md), out, title or f"Evaluation of {ev.name}")
    return files


def write_comparison_report(
    results: Mapping[str, ModelEvaluation | Mapping[str, Any]], out_dir: str | Path, title: str = "Model comparison"
) -> dict[str, Path]:
    """Put several models side by side: tables of every metric and, for ModelEvaluation inputs,
    overlaid ROC curves, similarity histograms per model and clustering bars.

    ``results``: {model name: ModelEvaluation, or its ``metrics()`` dict}. Writes comparison.json,
    report.md, report.html and PNGs to ``out_dir``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {name: (r.metrics() if isinstance(r, ModelEvaluation) else dict(r)) for name, r in results.items()}
    files: dict[str, Path] = {"metrics": out / "comparison.json"}
    files["metrics"].write_text(json.dumps(metrics, indent=2) + "\n")
    fars = _far_keys()
    md = [f"# {title}", ""]
    ver_rows = []
    for name, m in metrics.items():
        for set_name, d in m.get("verification", {}).items():
            ver_rows.append(
                [
                    name,
                    set_name,
                    fmt_pct(d["accuracy"], d["accuracy_std"]),
                    f"{d['best_threshold']:.3f}",
                    fmt_pct(d["val_at_far"]),
                    *(fmt_pct(d["tar_at_far"].get(f)) for f in fars),
                ]
            )
    if ver_rows:
        md += ["## Verification (10-fold, flip test)", ""]
        md.append(
            md_table(["model", "set", "accuracy %", "best thr", "VAL@1e-3 %", *(f"TAR@{f} %" for f in fars)], ver_rows)
        )
        md += ["", _UNREACHABLE_NOTE, ""]
    ijb_rows = [
        [n, m["ijb"]["name"], *(fmt_pct(m["ijb"]["tar_at_far"].get(f)) for f in fars)]
        for n, m in metrics.items()
        if "ijb" in m
    ]
    if ijb_rows:
        md += ["## IJB 1:1", "", md_table(["model", "set", *(f"TAR@{f} %" for f in fars)], ijb_rows), ""]
    cl_rows = []
    bar_scores: dict[str, dict[str, float]] = {}
    for name, m in metrics.items():
        for method, d in m.get("clustering", {}).get("methods", {}).items():
            s = d.get("scores")
            if s is None:
                continue
            cl_rows.append(
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
    if cl_rows:
        md += [
            "## Face clustering",
            "",
            md_table(["model", "method", "clusters", "pair F", "BCubed F", "NMI"], cl_rows),
            "",
        ]
        files["clustering"] = plots.plot_clustering_scores(bar_scores, out / "clustering.png")
        md += ["![clustering](clustering.png)", ""]
    evals = {n: r for n, r in results.items() if isinstance(r, ModelEvaluation)}
    set_names = sorted({b.name for r in evals.values() for b in r.bins})
    for set_name in set_names:
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
    mem = {n: r for n, r in evals.items() if r.memory_phi is not None and r.memory_margins is not None}
    for n, r in mem.items():
        assert r.memory_phi is not None and r.memory_margins is not None
        safe = "".join(ch if ch.isalnum() else "_" for ch in n)
        files[f"margin_{safe}"] = plots.plot_concentration_vs_margin(
            r.memory_phi, r.memory_margins, out / f"margin_{safe}.png", title=f"{n}: concentration and margin"
        )
        md += [f"![{n} margins](margin_{safe}.png)", ""]
    files["report"], files["html"] = write_markdown_and_html("\n".join(md), out, title)
    return files
