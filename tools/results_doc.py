"""Regenerate the tables of docs/results.md from the committed cell records (or check they are current).

    python tools/results_doc.py            # rewrite every generated block of docs/results.md
    python tools/results_doc.py --check    # exit 1 if a block differs from what the records give

A generated block is delimited in the Markdown by

    <!-- generated: RESULTS_DIR dataset=NAME [baseline=ROW] [row=ROW] sections=setup,metrics,... -->
    ...
    <!-- end generated -->

and holds the named sections (see ``clusterface.analysis.ablation_report.SECTIONS``) of that
dataset's summary, built from ``RESULTS_DIR/<dataset>/<row>/seed<k>.json`` exactly as
``clusterface ablate --report-only`` builds its tables (``conclusion``: ``row`` against the
baseline, metric by metric). Prose around the blocks is not touched, so
every number in a table of docs/results.md comes from the records, and the test suite checks it.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from clusterface.analysis.ablation_report import dataset_sections_md  # noqa: E402
from clusterface.analysis.ablation_summary import load_cell_records, summarize_study  # noqa: E402

DOC = ROOT / "docs" / "results.md"
BLOCK = re.compile(r"(<!-- generated: (?P<spec>[^\n]*?) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def render_block(spec: str, root: Path = ROOT) -> str:
    """The Markdown of one block from its spec ``RESULTS_DIR key=value ...``."""
    words = shlex.split(spec)
    if not words:
        raise ValueError("empty generated-block spec: name a results directory")
    options = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    if "dataset" not in options:
        raise ValueError(f"generated block {spec!r}: needs dataset=NAME")
    summary = summarize_study(load_cell_records(root / words[0]), options.get("baseline"))
    if options["dataset"] not in summary["datasets"]:
        raise ValueError(f"generated block {spec!r}: no records of dataset {options['dataset']!r} in {words[0]}")
    ds = summary["datasets"][options["dataset"]]
    sections = options.get("sections", "setup,metrics").split(",")
    return "\n".join(dataset_sections_md(ds, sections, options.get("row"))).strip("\n") + "\n"


def regenerate(text: str, root: Path = ROOT) -> str:
    """``text`` with the body of every generated block rebuilt from its records."""
    return BLOCK.sub(lambda m: m.group(1) + "\n" + render_block(m.group("spec"), root) + "\n" + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("doc", nargs="?", type=Path, default=DOC, help="Markdown file (default docs/results.md)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    text = args.doc.read_text()
    new = regenerate(text)
    if args.check:
        if new != text:
            print(f"{args.doc}: generated tables are out of date; run python tools/results_doc.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.doc.write_text(new)
        print(f"{args.doc}: {len(BLOCK.findall(text))} generated block(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
