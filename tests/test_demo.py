from pathlib import Path

import pytest

from clusterface.config import load_config
from clusterface.workflows.demo import DEMO_METHODS, _method_config, demo_config

ROOT = Path(__file__).resolve().parents[1]


def test_demo_yaml_matches_builtin_defaults():
    full = _method_config(demo_config(), "full", Path("runs/demo"))
    assert load_config(ROOT / "configs" / "demo.yaml") == full


def test_methods_differ_only_in_method_sections():
    cfg = demo_config(quick=True)
    a = _method_config(cfg, "arcface", Path("o")).model_dump()
    f = _method_config(cfg, "full", Path("o")).model_dump()
    differing = {k for k in a if a[k] != f[k]}
    assert differing == {"margin", "objective", "runtime"}
    assert {k for k in a["runtime"] if a["runtime"][k] != f["runtime"][k]} == {"out_dir"}
    assert set(DEMO_METHODS) == {"arcface", "full"}
    assert a["margin"]["kind"] == "arcface" and f["margin"]["kind"] == "cluster_guided"


@pytest.mark.slow
def test_demo_end_to_end_tiny(tmp_path):
    """main(["demo", ...]) on a tiny set: both runs train, both are evaluated, the report compares them."""
    import json

    from clusterface.cli import main

    pytest.importorskip("infomap")
    out = tmp_path / "demo"
    code = main(
        [
            "demo",
            "--quick",
            "--out",
            str(out),
            f"synth.root={tmp_path / 'synth'}",
            "synth.identities=40",
            "synth.images_median=6",
            "synth.images_max=10",
            "synth.workers=0",
            "data.workers=0",
            "schedule.batch_size=16",
            "schedule.max_steps=4",
            "model.embedding_dim=64",
        ]
    )
    assert code == 0
    comparison = json.loads((out / "comparison.json").read_text())
    assert set(comparison) == {"arcface", "full"}
    for metrics in comparison.values():
        assert 0.0 <= metrics["verification"]["verification"]["accuracy"] <= 1.0
    report = (out / "report.md").read_text()
    assert "arcface" in report and "full" in report
    assert "no detectable difference" in report  # the demo says what the multi-seed study found
    assert (out / "full" / "eval" / "metrics.json").is_file()
