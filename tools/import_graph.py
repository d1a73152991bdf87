"""Print the import graph between clusterface's subpackages; exit 1 on an upward edge or a cycle.

Every ``import clusterface.X...`` / ``from clusterface.X... import`` in ``src/clusterface/<pkg>/``
counts, including imports inside functions (a lazy import is still a dependency). Subpackages
are placed in layers (``LAYERS``, lowest first); a subpackage may import lower layers only,
so there is no upward edge, no edge inside a layer, and therefore no cycle.

    python tools/import_graph.py          # graph, then "ok" or the offending edges
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "clusterface"

#: Lowest first. A subpackage may import subpackages of lower layers only (not its own layer's).
LAYERS: list[list[str]] = [
    ["config", "ops"],  # schema; generic array/tensor operations
    ["models", "data"],  # backbones; image decoding and datasets
    ["checkpoint", "memory"],  # checkpoint files (rebuild a backbone); class-centre memory and concentration
    ["heads"],  # cosine classifier and margins (the cluster-guided one reads the memory)
    ["losses"],  # SCC, align, the joint objective and its factory
    ["evaluation", "clustering", "synth", "align"],  # metrics, extraction; face clustering; SynthFaces; photo alignment
    ["training", "export"],  # the training loop; ONNX/safetensors export, model metadata, calibration
    ["analysis", "inference"],  # reports and plots; clusterface.load and the FaceEmbedder
    ["workflows", "photos"],  # end-to-end jobs (demo, evaluation of a model); clustering a photo folder
    ["cli"],  # argument parsing only
]


def layer_of() -> dict[str, int]:
    return {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def subpackage_of(path: Path) -> str | None:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else None  # top-level modules (__init__, __main__) are the app


def imported_subpackages(path: Path) -> set[str]:
    """clusterface subpackages imported anywhere in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "clusterface":
                names = [f"clusterface.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "clusterface" and len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
                found.add(parts[1])
    return found


def import_graph() -> dict[str, set[str]]:
    """subpackage -> subpackages it imports (self-edges dropped)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        pkg = subpackage_of(path)
        if pkg is None:
            continue
        graph[pkg] |= imported_subpackages(path) - {pkg}
        graph.setdefault(pkg, set())
    return dict(graph)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def problems(graph: dict[str, set[str]]) -> list[str]:
    """Upward edges, subpackages missing from LAYERS, and a cycle, as lines of text."""
    layers = layer_of()
    out = [f"subpackage {pkg!r} is not in LAYERS" for pkg in sorted(graph) if pkg not in layers]
    for src in sorted(graph):
        for dst in sorted(graph[src]):
            if src in layers and dst in layers and layers[dst] >= layers[src]:
                kind = "upward" if layers[dst] > layers[src] else "same-layer"
                out.append(f"{kind} import: {src} (layer {layers[src]}) -> {dst} (layer {layers[dst]})")
    cycle = find_cycle(graph)
    if cycle is not None:
        out.append("cycle: " + " -> ".join(cycle))
    return out


def main() -> int:
    graph = import_graph()
    layers = layer_of()
    for pkg in sorted(graph, key=lambda p: (layers.get(p, 99), p)):
        print(f"{pkg:<11} -> {', '.join(sorted(graph[pkg], key=lambda p: (layers.get(p, 99), p))) or '-'}")
    found = problems(graph)
    for line in found:
        print(line)
    print("ok" if not found else f"{len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
