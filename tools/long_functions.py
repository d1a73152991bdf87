"""List functions longer than a limit (default 60 lines) in src/clusterface, outside synth/; exit 1 if any.

    python tools/long_functions.py [--max-lines 60]

A function's length is its body, docstring included, from the first line after the signature to the
last line (a CLI command's typed option list is declaration, not logic). SynthFaces (``synth/``) is
exempt: its renderer is numeric kernels tuned for speed.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "clusterface"
EXEMPT = ("synth",)
MAX_LINES = 60


def long_functions(max_lines: int = MAX_LINES) -> list[tuple[str, int, str, int]]:
    """(file relative to the package, line, qualified name, lines) of every function over ``max_lines``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in EXEMPT:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        stack: list[tuple[ast.AST, str]] = [(tree, "")]
        while stack:
            node, prefix = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    name = f"{prefix}{child.name}"
                    if not isinstance(child, ast.ClassDef):
                        length = (child.end_lineno or child.lineno) - child.body[0].lineno + 1
                        if length > max_lines:
                            found.append((str(rel), child.lineno, name, length))
                    stack.append((child, name + "."))
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lines", type=int, default=MAX_LINES)
    args = parser.parse_args(argv)
    found = long_functions(args.max_lines)
    for rel, line, name, length in found:
        print(f"{rel}:{line}: {name} has {length} lines (> {args.max_lines})")
    print("ok" if not found else f"{len(found)} function(s) over {args.max_lines} lines")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
