"""The subpackage layering (tools/import_graph.py): no upward import, no cycle; the check itself can fail."""

import importlib.util
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "import_graph.py"


def _tool():
    spec = importlib.util.spec_from_file_location("import_graph", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_subpackages_import_only_lower_layers():
    run = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("ok")


def test_every_subpackage_has_a_layer():
    tool = _tool()
    assert set(tool.import_graph()) <= set(tool.layer_of())


def test_the_check_reports_upward_edges_and_cycles():
    tool = _tool()
    assert any("upward import: memory" in p for p in tool.problems({"memory": {"heads"}, "heads": set()}))
    assert any("same-layer" in p for p in tool.problems({"evaluation": {"clustering"}, "clustering": set()}))
    assert tool.find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert tool.find_cycle({"a": {"b"}, "b": set()}) is None
