"""No function over ~60 lines outside synth/ (tools/long_functions.py), and the check itself can fail."""

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "long_functions.py"


def _tool():
    spec = importlib.util.spec_from_file_location("long_functions", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_long_functions_outside_synth():
    found = _tool().long_functions()
    assert found == [], "\n".join(f"{f}:{line}: {name} has {n} lines" for f, line, name, n in found)


def test_the_check_finds_long_functions():
    # with a tiny limit, the trainer's loop pieces count as long
    found = _tool().long_functions(max_lines=5)
    assert any(name.startswith("Trainer.") for _, _, name, _ in found)
    assert not any(f.startswith("synth/") for f, _, _, _ in found)
