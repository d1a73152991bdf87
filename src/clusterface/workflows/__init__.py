"""Workflows: the multi-step jobs built from the library (the demo, the evaluation of a model)."""

from clusterface.workflows.demo import DEMO_METHODS, DemoResult, demo_config, run_demo
from clusterface.workflows.evaluation import (
    DEFAULT_CLUSTER_METHODS,
    cluster_face_set,
    clustering_threshold_from,
    evaluate_model,
    memory_arrays_from_checkpoint,
)

__all__ = [
    "DEFAULT_CLUSTER_METHODS",
    "DEMO_METHODS",
    "DemoResult",
    "cluster_face_set",
    "clustering_threshold_from",
    "demo_config",
    "evaluate_model",
    "memory_arrays_from_checkpoint",
    "run_demo",
]
