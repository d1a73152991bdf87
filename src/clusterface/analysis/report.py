"""Reports: Markdown plus a self-contained HTML page (PNG plots inlined as base64)."""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: Footnote of TAR@FAR tables.
UNREACHABLE_NOTE = "n/a: the set has too few impostor pairs to measure that FAR (at least 1/FAR are needed)."


def far_keys(fars: Sequence[float] | None = None) -> list[str]:
    """The keys of a ``tar_at_far`` dict ("1e-03", ...) for ``fars`` (default: ``EvalConfig().fars``)."""
    from clusterface.config.schema import EvalConfig

    return [f"{f:.0e}" for f in (EvalConfig().fars if fars is None else fars)]


def fmt_pct(value: float | None, std: float | None = None, digits: int = 2) -> str:
    """0.9876 -> '98.76', with '± std' when given; None -> 'n/a'."""
    if value is None:
        return "n/a"
    text = f"{100 * value:.{digits}f}"
    return text + (f" ± {100 * std:.{digits}f}" if std is not None else "")


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown pipe table."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _inline(match: re.Match[str], base: Path) -> str:
    alt, src = match.group(1), match.group(2)
    img = base / src
    if not img.is_file():
        return f"<p>[missing plot {html.escape(src)}]</p>"
    data = base64.b64encode(img.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/></figure>'


def markdown_to_html(markdown: str, base: Path, title: str) -> str:
    """Minimal converter for the reports written here: headings, tables, images, lists, paragraphs."""
    out: list[str] = []
    table: list[list[str]] = []
    in_list = False

    def flush_table() -> None:
        if not table:
            return
        head, *body = table
        out.append("<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr></thead><tbody>")
        out.extend("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in body)
        out.append("</tbody></table>")
        table.clear()

    for raw in markdown.splitlines():
        line = raw.rstrip()
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                table.append(cells)
            continue
        flush_table()
        if in_list and not line.startswith("- "):
            out.append("</ul>")
            in_list = False
        if not line:
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("!["):
            out.append(re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", lambda m: _inline(m, base), line))
        elif line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{html.escape(line[2:])}</li>")
        else:
            out.append(f"<p>{html.escape(line)}</p>")
    flush_table()
    if in_list:
        out.append("</ul>")
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}"
        "th{background:#eee}td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
    )


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to a temporary file and rename it: a full disk (or a kill) leaves the old file
    or none, never a truncated one that looks complete; the temporary file is removed on failure."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_markdown_and_html(markdown: str, out_dir: Path, title: str, stem: str = "report") -> tuple[Path, Path]:
    """Write ``stem.md`` and a self-contained ``stem.html`` (plots referenced in the Markdown are inlined)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path = out_dir / f"{stem}.md"
    write_text_atomic(md_path, markdown)
    html_path = out_dir / f"{stem}.html"
    write_text_atomic(html_path, markdown_to_html(markdown, out_dir, title))
    return md_path, html_path


def tar_columns(fars: Sequence[str], tar: Mapping[str, float | None]) -> list[str]:
    return [fmt_pct(tar.get(f)) for f in fars]
