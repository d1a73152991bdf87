import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from clusterface.cli import main

#: Libraries that take seconds to import; `--help` and the SynthFaces workers need none of them.
HEAVY_MODULES = ("torch", "faiss", "sklearn", "matplotlib", "onnxruntime")
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run_python(*args: str) -> object:
    """Run ``python ARGS`` in a fresh interpreter on this tree's code; return its last stdout line as JSON."""
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("synth", "models", "train", "demo", "evaluate", "cluster", "data"):
        assert name in out


def test_unknown_command_is_usage_error():
    assert main(["no-such-command"]) == 2


def test_help_imports_no_heavy_library():
    """`clusterface --help` (and the help of the light commands) must not import torch & co.: they cost seconds."""
    code = textwrap.dedent(f"""
        import contextlib, io, json, sys
        from clusterface.cli import main
        loaded = {{}}
        for argv in (["--help"], ["synth", "--help"], ["data", "scan", "--help"], ["evaluate", "--help"]):
            with contextlib.redirect_stdout(io.StringIO()):
                assert main(argv) == 0, argv
            loaded[" ".join(argv)] = sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)
        print(json.dumps(loaded))
    """)
    loaded = _run_python("-c", code)
    assert loaded == {cmd: [] for cmd in loaded}, loaded


def test_synth_worker_started_from_console_script_imports_no_heavy_library(tmp_path):
    """A spawned SynthFaces worker re-imports the console script (``from clusterface.cli import run``) and the
    writer; neither may pull in torch, or every worker start costs seconds."""
    script = tmp_path / "clusterface_script.py"  # the shape of the console script pip writes
    script.write_text(
        textwrap.dedent(f"""
        import sys
        from clusterface.cli import run

        def loaded_in_worker():
            import clusterface.synth.writer  # what unpickling the render task imports
            return sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)

        if __name__ == "__main__":
            import json, multiprocessing as mp
            with mp.get_context("spawn").Pool(1) as pool:
                print(json.dumps(pool.apply(loaded_in_worker)))
    """)
    )
    assert _run_python(str(script)) == []


def test_cli_clustering_method_names_match_the_library():
    from clusterface.cli.evaluate import CLUSTERING_METHODS as cli_names
    from clusterface.clustering import CLUSTERING_METHODS

    assert cli_names == tuple(CLUSTERING_METHODS)
