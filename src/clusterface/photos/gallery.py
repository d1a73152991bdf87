"""The outputs of photo clustering: a folder per person (links to the photos), a CSV and an HTML gallery.

``people/person_001`` is the largest cluster; faces in clusters smaller than ``min_size`` go to
``people/singletons``. A folder holds one link per photo (to the original file, absolute path), or a
copy with ``link="copy"``. ``people/`` is rebuilt on every run, so it always matches the latest
clustering. ``index.html`` shows each cluster's face crops (from ``faces/``), its size, the photos
that appear in several clusters, and the photos without a face.
"""

from __future__ import annotations

import csv
import html
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Literal

from clusterface.photos.pipeline import PhotoClustering

SINGLETONS = "singletons"


def cluster_names(result: PhotoClustering, min_size: int = 2) -> list[str]:
    """A folder name per face: ``person_NNN`` numbered by cluster size (largest first), or ``singletons``."""
    members: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(result.assignment.tolist()):
        members[c].append(i)
    order = sorted(members, key=lambda c: (-len(members[c]), members[c][0]))
    names = [""] * len(result.faces)
    rank = 0
    for c in order:
        if len(members[c]) >= min_size:
            rank += 1
            name = f"person_{rank:03d}"
        else:
            name = SINGLETONS
        for i in members[c]:
            names[i] = name
    return names


def _link_name(photo: Path, root: Path) -> str:
    rel = photo.relative_to(root) if root.is_dir() else Path(photo.name)
    return "__".join(rel.parts)


def write_outputs(
    result: PhotoClustering, out: str | Path, link: Literal["symlink", "copy"] = "symlink", min_size: int = 2
) -> dict[str, Path]:
    """Write ``people/``, ``assignments.csv`` and ``index.html`` under ``out``; returns their paths."""
    out = Path(out)
    names = cluster_names(result, min_size)
    people = out / "people"
    if people.exists():
        shutil.rmtree(people)
    done: set[tuple[str, Path]] = set()
    for face, name in zip(result.faces, names, strict=True):
        if (name, face.photo) in done:
            continue
        done.add((name, face.photo))
        target = people / name / _link_name(face.photo, result.source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if link == "copy":
            shutil.copy2(face.photo, target)
        else:
            os.symlink(face.photo.resolve(), target)
    csv_path = out / "assignments.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["photo", "face", "person", "score", "x0", "y0", "x1", "y1", "crop"])
        for face, name in zip(result.faces, names, strict=True):
            w.writerow(
                [face.photo, face.index, name, f"{face.score:.3f}", *(f"{v:.1f}" for v in face.box), face.crop.name]
            )
    html_path = out / "index.html"
    html_path.write_text(gallery_html(result, names, out))
    return {"people": people, "csv": csv_path, "html": html_path}


def gallery_html(result: PhotoClustering, names: list[str], out: Path) -> str:
    """A self-contained page (crops referenced relative to ``out``)."""
    by_name: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        by_name[name].append(i)
    clusters_of_photo: dict[Path, set[str]] = defaultdict(set)
    for face, name in zip(result.faces, names, strict=True):
        if name != SINGLETONS:
            clusters_of_photo[face.photo].add(name)
    multi = {p: sorted(c) for p, c in clusters_of_photo.items() if len(c) > 1}
    esc = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'><title>clusterface: people</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}img{width:84px;height:84px;margin:2px;border-radius:4px}"
        "h2{margin-bottom:.2em}.meta{color:#555}table{border-collapse:collapse}td{padding:2px 8px}</style>",
        f"<h1>{len(result.faces)} faces in {result.photos} photos</h1>",
        f"<p class='meta'>method {esc(result.method)}, cosine threshold {result.threshold:.3f} "
        f"({esc(result.threshold_source)}); {result.reused_photos} photos reused from earlier runs, "
        f"{result.detected_photos} detected now; {len(result.no_face)} without a face, "
        f"{len(result.unreadable)} unreadable.</p>",
    ]
    ordered = sorted(n for n in by_name if n != SINGLETONS) + ([SINGLETONS] if SINGLETONS in by_name else [])
    for name in ordered:
        idx = by_name[name]
        photos = {result.faces[i].photo for i in idx}
        parts.append(f"<h2 id='{esc(name)}'>{esc(name)}</h2>")
        parts.append(f"<p class='meta'>{len(idx)} faces in {len(photos)} photos — folder people/{esc(name)}</p><div>")
        for i in idx:
            face = result.faces[i]
            crop = esc(os.path.relpath(face.crop, out))
            parts.append(f"<img src='{crop}' title='{esc(str(face.photo))} (face {face.index})' loading='lazy'>")
        parts.append("</div>")
    parts.append(f"<h2>Photos in several clusters ({len(multi)})</h2><table>")
    for photo, cl in sorted(multi.items()):
        links = ", ".join(f"<a href='#{esc(c)}'>{esc(c)}</a>" for c in cl)
        parts.append(f"<tr><td>{esc(str(photo))}</td><td>{links}</td></tr>")
    parts.append("</table>")
    parts.append(f"<h2>Photos without a face ({len(result.no_face)})</h2><ul>")
    parts.extend(f"<li>{esc(str(p))}</li>" for p in result.no_face)
    parts.append("</ul>")
    if result.unreadable:
        parts.append(f"<h2>Unreadable ({len(result.unreadable)})</h2><ul>")
        parts.extend(f"<li>{esc(str(p))}: {esc(why)}</li>" for p, why in result.unreadable)
        parts.append("</ul>")
    return "\n".join(parts) + "\n"
