"""Evaluate one model end to end: verification on .bin sets, IJB templates, face clustering, training memory.

``evaluate_model`` computes a ``ModelEvaluation``; ``clusterface.analysis`` renders it
(``write_evaluation_report``, ``write_comparison_report``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from torch import nn

from clusterface.analysis.results import ClusteringEvaluation, ModelEvaluation
from clusterface.clustering import ClusteringOptions, build_knn, cluster_features, clustering_scores
from clusterface.clustering.face_set import load_face_set
from clusterface.clustering.knn import KnnMethod
from clusterface.clustering.pipeline import DEFAULT_SIMILARITY_THRESHOLD
from clusterface.config.schema import EvalConfig
from clusterface.evaluation import (
    DEFAULT_FARS,
    Embedder,
    PairEvaluation,
    as_embedder,
    evaluate_ijb,
    extract_embeddings,
    score_bin,
)
from clusterface.ops import l2_normalize

DEFAULT_CLUSTER_METHODS: tuple[str, ...] = EvalConfig().cluster_methods


def memory_arrays_from_checkpoint(path: str | Path) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """(φ, margins) of the known classes stored in a training checkpoint's class-centre memory, if any.

    Looks for tensors whose keys end in ``concentration``, ``margins`` (and ``has_concentration``)
    anywhere in the checkpoint, so it does not depend on how the trainer nests its state.
    """
    import torch

    from clusterface.checkpoint import load_checkpoint

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
        feats = l2_normalize(feats)
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
