"""Workflows: the multi-step jobs built from the library (the demo)."""

from clusterface.workflows.demo import DEMO_METHODS, DemoResult, demo_config, run_demo

__all__ = ["DEMO_METHODS", "DemoResult", "demo_config", "run_demo"]
