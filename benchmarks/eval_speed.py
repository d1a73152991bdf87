"""Evaluation and clustering speed: 10-fold protocol, TAR@FAR, kNN graphs and clustering algorithms.

    .venv/bin/python benchmarks/eval_speed.py                       # everything (10^4 and 10^5 points)
    .venv/bin/python benchmarks/eval_speed.py --sizes 10000         # quick
    .venv/bin/python benchmarks/eval_speed.py --json out.json

Timings are wall-clock seconds in this process; ratios (vectorised vs loop, approximate vs
exact kNN) are measured in the same process and are the numbers to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from clusterface.clustering import (
    ClusteringOptions,
    build_knn,
    cluster_features,
    clustering_scores,
    make_clustered_embeddings,
)
from clusterface.evaluation import DEFAULT_THRESHOLDS, tar_at_far, verification_10fold

CPU_SECONDS: list[float] = []  # process CPU time (all threads) of the last timed() call


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs and the last result; its CPU time goes to CPU_SECONDS.

    On a shared machine wall time mostly measures the other jobs; CPU time (summed over threads)
    does not, and CPU time / cores bounds what a quiet machine would take.
    """
    best, out, cpu = float("inf"), None, float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    CPU_SECONDS[:] = [cpu]
    return best, out


def loop_10fold(dist: np.ndarray, issame: np.ndarray, thresholds: np.ndarray = DEFAULT_THRESHOLDS) -> float:
    """The common implementation (insightface eval/verification.py calculate_roc): 400 thresholds per fold."""
    from sklearn.model_selection import KFold

    def accuracy(t: float, d: np.ndarray, s: np.ndarray) -> float:
        pred = np.less(d, t)
        tp = np.sum(np.logical_and(pred, s))
        tn = np.sum(np.logical_and(np.logical_not(pred), np.logical_not(s)))
        return float(tp + tn) / d.size

    accs = []
    for train, test in KFold(n_splits=10, shuffle=False).split(np.arange(len(dist))):
        acc_train = np.zeros(len(thresholds))
        for i, t in enumerate(thresholds):
            acc_train[i] = accuracy(t, dist[train], issame[train])
        best = int(np.argmax(acc_train))
        for t in thresholds:  # the reference also computes the test-fold ROC at every threshold
            accuracy(t, dist[test], issame[test])
        accs.append(accuracy(thresholds[best], dist[test], issame[test]))
    return float(np.mean(accs))


def bench_verification(rng: np.random.Generator) -> dict[str, Any]:
    n = 6000
    issame = np.tile([True] * 300 + [False] * 300, 10)
    dist = np.where(issame, rng.normal(0.9, 0.3, n), rng.normal(1.6, 0.3, n)).clip(0, 4)
    t_vec, res = timed(lambda: verification_10fold(dist, issame), repeat=20)
    cpu_vec = CPU_SECONDS[0]
    t_loop, acc_loop = timed(lambda: loop_10fold(dist, issame), repeat=1)
    cpu_loop = CPU_SECONDS[0]
    assert abs(acc_loop - res.accuracy_mean) < 1e-12, (acc_loop, res.accuracy_mean)
    m = 1_000_000
    same = rng.random(m) < 0.01
    scores = np.where(same, rng.normal(0.6, 0.15, m), rng.normal(0.0, 0.1, m))
    t_tar, tars = timed(lambda: tar_at_far(scores, same), repeat=3)
    return {
        "pairs_10fold": n,
        "10fold_vectorised_s": t_vec,
        "10fold_loop_s": t_loop,
        "10fold_speedup": t_loop / t_vec,
        "10fold_vectorised_cpu_s": cpu_vec,
        "10fold_loop_cpu_s": cpu_loop,
        "accuracy": res.accuracy_mean,
        "tar_pairs": m,
        "tar_at_far_s": t_tar,
        "tar_at_far": {f"{r.far:.0e}": r.tar for r in tars},
    }


SLOW_METHODS = ("agglomerative", "kmeans")


def bench_clustering(
    n: int,
    methods: list[str],
    knn_methods: list[str],
    k: int,
    threshold: float,
    seed: int,
    slow_on_all_graphs: bool = False,
) -> dict[str, Any]:
    num_clusters = n // 20
    t_make, (x, y) = timed(
        lambda: make_clustered_embeddings(n, num_clusters, dim=512, family_size=4, spread=(0.7, 1.4), seed=seed)
    )
    out: dict[str, Any] = {"n": n, "clusters": num_clusters, "dim": 512, "k": k, "threshold": threshold, "knn": {}}
    graphs = {}
    for km in knn_methods:
        t, g = timed(lambda km=km: build_knn(x, k=k, method=km, seed=seed))  # type: ignore[misc]
        graphs[km] = g
        out["knn"][km] = {"seconds": t, "cpu_seconds": CPU_SECONDS[0]}
        print(f"  n={n} knn {km}: {t:.1f}s (cpu {CPU_SECONDS[0]:.1f}s)", flush=True)
    if "exact" in graphs:
        ex = graphs["exact"].indices
        for km, g in graphs.items():
            hits = (g.indices[:, :, None] == ex[:, None, :]).any(-1).sum()
            out["knn"][km]["recall_vs_exact"] = float(hits / ex.size)
    out["algorithms"] = {}
    # fast graph methods on every graph first (the exact-vs-approximate comparison), then the slow ones
    plan = [(km, m) for km in graphs for m in methods if m not in SLOW_METHODS]
    plan += [(km, m) for km in graphs for m in methods if m in SLOW_METHODS]
    for km, method in plan:
        g = graphs[km]
        if method == "kmeans" and km != knn_methods[0]:
            continue  # k-means does not use the graph
        if method in SLOW_METHODS and km != knn_methods[0] and not slow_on_all_graphs:
            continue
        opts = ClusteringOptions(threshold=threshold, num_clusters=num_clusters if method == "kmeans" else None, k=k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, lab = timed(lambda m=method, o=opts, g=g: cluster_features(x, m, o, knn=g))  # type: ignore[misc]
        s = clustering_scores(lab, y)
        key = method if method == "kmeans" else f"{method}@{km}"
        out["algorithms"][key] = {
            "seconds": t,
            "cpu_seconds": CPU_SECONDS[0],
            "pairwise_fscore": s["pairwise_fscore"],
            "bcubed_fscore": s["bcubed_fscore"],
            "nmi": s["nmi"],
            "clusters": s["num_clusters"],
        }
        print(
            f"  n={n} {key}: {t:.1f}s (cpu {CPU_SECONDS[0]:.1f}s)  Fp={s['pairwise_fscore']:.4f}"
            f" Fb={s['bcubed_fscore']:.4f} NMI={s['nmi']:.4f}",
            flush=True,
        )
    out["make_embeddings_s"] = t_make
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--methods", nargs="+", default=["components", "infomap", "dbscan", "agglomerative", "kmeans"])
    ap.add_argument("--knn", nargs="+", default=["exact", "hnsw", "ivf"], help="kNN methods (first = reference)")
    ap.add_argument("--skip-exact-above", type=int, default=10**9, help="no exact kNN above this N")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--threshold", type=float, default=0.3, help="cosine threshold of the graph methods")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--slow-on-all-graphs", action="store_true", help="agglomerative on every kNN graph")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    import faiss

    result: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, faiss threads "
        f"{faiss.omp_get_max_threads()}",
        "load_average_at_start": os.getloadavg(),
    }
    print("verification:", flush=True)
    result["verification"] = bench_verification(rng)
    print(json.dumps(result["verification"], indent=1), flush=True)
    result["clustering"] = []
    for n in args.sizes:
        knn_methods = [m for m in args.knn if not (m == "exact" and n > args.skip_exact_above)]
        result["clustering"].append(
            bench_clustering(n, args.methods, knn_methods, args.k, args.threshold, args.seed, args.slow_on_all_graphs)
        )
    result["load_average_at_end"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
