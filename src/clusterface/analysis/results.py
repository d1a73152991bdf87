"""What an evaluation measured, per model: verification, IJB, clustering and the training memory.

Produced by ``clusterface.workflows.evaluate_model``; rendered by ``write_evaluation_report`` and
``write_comparison_report``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clusterface.analysis import plots
from clusterface.clustering import ClusteringOptions
from clusterface.evaluation import IJBResult, PairEvaluation


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
        # csv quotes commas, quotes and newlines (all legal in file names); names that are not UTF-8
        # on disk are written with backslash escapes instead of failing
        with path.open("w", newline="", encoding="utf-8", errors="backslashreplace") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for i, name in enumerate(self.item_names):
                row = [name, *(str(int(self.assignments[m][i])) for m in methods)]
                if self.labels is not None:
                    lab = int(self.labels[i])
                    row.append(self.class_names[lab] if self.class_names else str(lab))
                writer.writerow(row)
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
