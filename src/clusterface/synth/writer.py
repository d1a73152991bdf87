"""Write a SynthFaces dataset to disk: image folders, verification pairs, contact sheet, manifest.

Layout of ``cfg.root``::

    train/<identity>/<n>.jpg          image folder (label = sorted identity-folder index)
    test/images/<identity>/<n>.jpg    clustering set: all test images
    test/pairs.txt                    LFW layout over test/images (see synth.pairs)
    test/verification.bin             insightface .bin: JPEG bytes of consecutive pairs
    val/images/<identity>/<n>.jpg     validation identities (only with synth.val_fraction > 0),
    val/pairs.txt, val/verification.bin   disjoint from train and test; pairs drawn like test's
    images.csv                        per image: split, path, true identity, pose, occluder, 5 landmarks
    contact_sheet.png                 test identities x images
    manifest.json                     parameters, their hash, counts; written last, atomically

Caching and resume: every file is written to a temporary name then renamed (``os.replace``),
so a file that exists is complete. A call whose parameters hash equals the manifest's returns
at once; an interrupted call (no manifest yet) resumes, skipping the images already written.
A directory holding a different dataset is refused unless ``overwrite=True``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from clusterface.config.schema import SynthConfig
from clusterface.synth.pairs import PairSet, build_pairs, pairs_text
from clusterface.synth.plan import ImageRecord, SynthPlan, build_plan, folder_name
from clusterface.synth.sampling import RenderedImage, render_record

GENERATOR_VERSION = "synthfaces-3"  # bump whenever the same parameters give other bytes
MANIFEST = "manifest.json"
IN_PROGRESS = "synth_in_progress.json"
CHUNK = 16
_MMAP_WARMUP_BYTES = 8 << 20


@dataclass(frozen=True)
class SynthPaths:
    """Where a generated dataset lives."""

    root: Path
    train_dir: Path
    test_images_dir: Path
    bin_path: Path
    pairs_path: Path
    contact_sheet: Path
    manifest: Path
    images_csv: Path
    val_images_dir: Path  # these three exist only for a dataset written with synth.val_fraction > 0
    val_bin_path: Path
    val_pairs_path: Path


def synth_paths(root: Path) -> SynthPaths:
    root = Path(root)
    return SynthPaths(
        root=root,
        train_dir=root / "train",
        test_images_dir=root / "test" / "images",
        bin_path=root / "test" / "verification.bin",
        pairs_path=root / "test" / "pairs.txt",
        contact_sheet=root / "contact_sheet.png",
        manifest=root / MANIFEST,
        images_csv=root / "images.csv",
        val_images_dir=root / "val" / "images",
        val_bin_path=root / "val" / "verification.bin",
        val_pairs_path=root / "val" / "pairs.txt",
    )


def output_params(cfg: SynthConfig) -> dict[str, object]:
    """The fields that determine the output (not where it goes nor how many workers write it)."""
    params = cfg.model_dump(mode="json", exclude={"root", "workers"})
    if not params["val_fraction"]:
        # no validation split: the output is what it was before the field existed, so is its hash
        del params["val_fraction"]
    params["generator"] = GENERATOR_VERSION
    return params


def _same_but_generator(manifest: dict[str, object], cfg: SynthConfig) -> bool:
    """Whether ``manifest`` describes this dataset as written by another generator version."""
    theirs = manifest.get("params")
    if not isinstance(theirs, dict):
        return False
    ours = output_params(cfg)
    return theirs.get("generator") != ours["generator"] and {k: v for k, v in theirs.items() if k != "generator"} == {
        k: v for k, v in ours.items() if k != "generator"
    }


def params_hash(cfg: SynthConfig) -> str:
    blob = json.dumps(output_params(cfg), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then rename it: ``path`` exists only complete.
    (Plain ``os`` calls: a buffered file object costs a fifth of the time of writing a small JPEG.)"""
    tmp = f"{path.parent}/.{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)


def _read_manifest(path: Path) -> dict[str, object] | None:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per core; OpenCV's own threads only contend
    # glibc malloc serves blocks over 128 KiB (a 112x112x3 float32 frame is 147 KiB) with mmap/munmap,
    # so every such temporary costs fresh page faults; freeing one larger mmapped block raises that
    # threshold (glibc's dynamic mmap threshold), cutting a worker's page faults ~8x. No effect on pixels.
    np.empty(_MMAP_WARMUP_BYTES, np.uint8)


def _render_chunk(args: tuple[SynthConfig, str, Sequence[ImageRecord]]) -> list[dict[str, object]]:
    """Render and write one chunk of images (skipping complete files); return their metadata rows."""
    cfg, root, records = args
    rows = []
    made: set[Path] = set()
    for rec in records:
        path = Path(root) / rec.relpath
        need_pixels = not path.exists()
        out: RenderedImage = render_record(cfg, rec, pixels=need_pixels)
        if need_pixels:
            assert out.jpeg is not None
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            _atomic_write_bytes(path, out.jpeg)
        rows.append(out.metadata(rec))
    return rows


def _chunks(records: Sequence[ImageRecord], size: int) -> Iterator[Sequence[ImageRecord]]:
    """Chunks of about ``size`` records that end where an identity ends (up to 4x ``size``): a worker
    then paints an identity's head, static texture and hair once instead of each worker doing it."""
    chunk: list[ImageRecord] = []
    for rec in records:
        if chunk and (len(chunk) >= 4 * size or (len(chunk) >= size and rec.identity != chunk[-1].identity)):
            yield chunk
            chunk = []
        chunk.append(rec)
    if chunk:
        yield chunk


def _render_all(
    cfg: SynthConfig, root: Path, records: Sequence[ImageRecord], progress: bool
) -> list[dict[str, object]]:
    tasks = [(cfg, str(root), chunk) for chunk in _chunks(records, CHUNK)]
    rows: list[dict[str, object]] = []
    bar = tqdm(total=len(records), desc="synth", unit="img", disable=not progress, dynamic_ncols=True)
    try:
        if cfg.workers <= 1:
            _init_worker_restore = cv2.getNumThreads()
            _init_worker()
            try:
                for task in tasks:
                    rows.extend(_render_chunk(task))
                    bar.update(len(task[2]))
            finally:
                cv2.setNumThreads(_init_worker_restore)
        else:
            if records:  # compiles the numba kernels once here; the workers then load them from numba's disk cache
                render_record(cfg, records[0])
            ctx = mp.get_context("spawn")
            with ctx.Pool(cfg.workers, initializer=_init_worker) as pool:
                for chunk_rows in pool.imap(_render_chunk, tasks):
                    rows.extend(chunk_rows)
                    bar.update(len(chunk_rows))
    finally:
        bar.close()
    return rows


def _clean_temporaries(root: Path) -> None:
    for sub in ("train", "test", "val"):
        d = root / sub
        if d.exists():
            for tmp in d.rglob(".*.tmp"):
                tmp.unlink(missing_ok=True)


def _contact_sheet(plan: SynthPlan, paths: SynthPaths, rows: int = 12, cols: int = 10) -> np.ndarray:
    """Test identities (look-alike families first, next to each other) x their first images, BGR for cv2."""
    from clusterface.data.decode import ImageDecodeError, read_face  # main process only: workers skip torch

    ids = plan.test_ids.tolist()
    fams: dict[int, list[int]] = {}
    for i in ids:
        fams.setdefault(int(plan.parents[i]), []).append(i)
    ordered = [i for f in fams.values() if len(f) > 1 for i in f] + [i for f in fams.values() if len(f) == 1 for i in f]
    chosen = ordered[:rows]
    tile = 112
    sheet = np.full((len(chosen) * tile, cols * tile, 3), 255, np.uint8)
    for r, ident in enumerate(chosen):
        for c in range(min(cols, int(plan.counts[ident]))):
            try:
                rgb = read_face(paths.test_images_dir / folder_name(ident) / f"{c}.jpg", tile).numpy()
            except ImageDecodeError:
                continue
            sheet[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = rgb[::-1].transpose(1, 2, 0)
    return sheet


def _pairs_info(pairs: PairSet, split: str) -> dict[str, object]:
    return {
        "folds": 10,
        "pairs_per_fold": pairs.pairs_per_fold,
        "scaled_down": pairs.pairs_per_fold < 300,
        "folds_identity_disjoint": pairs.folds_identity_disjoint,
        "lookalike_impostors": pairs.lookalike_impostors,
        "format": f"LFW pairs.txt; image n of <name> is {split}/images/<name>/<n>.jpg",
    }


def _write_pairs(
    plan: SynthPlan, cfg: SynthConfig, split: str, pairs_path: Path, bin_path: Path, images_dir: Path
) -> PairSet:
    """Draw ``split``'s verification pairs; write them as LFW pairs.txt and an insightface .bin."""
    pairs = build_pairs(plan, cfg.seed, cfg.impostor_lookalike_fraction, split)
    pairs_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_bytes(pairs_path, pairs_text(pairs).encode())
    images: list[bytes] = []
    for p in pairs.pairs:
        for ident, n in (p.a, p.b):
            images.append((images_dir / folder_name(ident) / f"{n}.jpg").read_bytes())
    from clusterface.data.bin_set import save_bin  # lazy: clusterface.data imports torch, which workers never need

    save_bin(bin_path, images, pairs.issame)
    return pairs


def generate_dataset(cfg: SynthConfig, progress: bool = True, overwrite: bool = False) -> SynthPaths:
    """Write (or reuse, or resume) the SynthFaces dataset described by ``cfg`` under ``cfg.root``."""
    paths = synth_paths(Path(cfg.root))
    root = paths.root
    digest = params_hash(cfg)
    if not overwrite and _is_complete(cfg, paths, digest):
        return paths
    from clusterface.data.output_lock import OutputLock  # lazy, as save_bin below

    with OutputLock(root, "clusterface synth"):  # one writer per dataset folder
        if not overwrite and _is_complete(cfg, paths, digest):  # another writer may have finished meanwhile
            return paths
        return _write_dataset(cfg, paths, digest, _read_manifest(paths.manifest), progress, overwrite)


def _is_complete(cfg: SynthConfig, paths: SynthPaths, digest: str) -> bool:
    """The dataset of these parameters is fully written (manifest last, then every pair file)."""
    manifest = _read_manifest(paths.manifest)
    if manifest is None or manifest.get("params_hash") != digest:
        return False
    if not (paths.bin_path.exists() and paths.pairs_path.exists()):
        return False
    return not cfg.val_fraction or (paths.val_bin_path.exists() and paths.val_pairs_path.exists())


def _write_dataset(
    cfg: SynthConfig,
    paths: SynthPaths,
    digest: str,
    manifest: dict[str, object] | None,
    progress: bool,
    overwrite: bool,
) -> SynthPaths:
    root = paths.root
    marker = _read_manifest(root / IN_PROGRESS)
    other = [m for m in (manifest, marker) if m is not None and m.get("params_hash") != digest]
    if other and all(_same_but_generator(m, cfg) for m in other):
        # the same dataset written by an older generator: a stale cache, not someone else's data
        print(f"SynthFaces: {root} was written by an older generator version; writing it again", file=sys.stderr)
        overwrite = True
    if other or overwrite:
        if other and not overwrite:
            raise FileExistsError(
                f"{root} holds a SynthFaces dataset with other parameters; choose another directory or overwrite it"
            )
        for sub in ("train", "test", "val"):
            shutil.rmtree(root / sub, ignore_errors=True)
        for name in (MANIFEST, IN_PROGRESS, "images.csv", "contact_sheet.png"):
            (root / name).unlink(missing_ok=True)
    elif manifest is None and marker is None and root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty and holds no SynthFaces dataset; choose an empty or new directory")
    root.mkdir(parents=True, exist_ok=True)
    (root / MANIFEST).unlink(missing_ok=True)
    _atomic_write_bytes(root / IN_PROGRESS, json.dumps({"params_hash": digest, "params": output_params(cfg)}).encode())
    _clean_temporaries(root)

    start = time.perf_counter()
    plan = build_plan(cfg)
    records = list(plan.train) + list(plan.test) + list(plan.val)
    rows = _render_all(cfg, root, records, progress)

    pairs = _write_pairs(plan, cfg, "test", paths.pairs_path, paths.bin_path, paths.test_images_dir)
    val_pairs = None
    if len(plan.val_ids):
        val_pairs = _write_pairs(plan, cfg, "val", paths.val_pairs_path, paths.val_bin_path, paths.val_images_dir)

    ok, png = cv2.imencode(".png", _contact_sheet(plan, paths))
    if ok:
        _atomic_write_bytes(paths.contact_sheet, png.tobytes())
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _atomic_write_bytes(paths.images_csv, buf.getvalue().encode())

    counts = plan.counts
    info = {
        "params_hash": digest,
        "params": output_params(cfg),
        "identities": cfg.identities,
        "train_identities": len(plan.train_ids),
        "test_identities": len(plan.test_ids),
        "train_images": len(plan.train),
        "test_images": len(plan.test),
        **({"val_identities": len(plan.val_ids), "val_images": len(plan.val)} if val_pairs else {}),
        "images_per_identity": {
            "min": int(counts.min()),
            "median": float(np.median(counts)),
            "max": int(counts.max()),
            "mean": float(counts.mean()),
        },
        "lookalike_identities": int((plan.parents != np.arange(cfg.identities)).sum()),
        "label_noise": {"fraction": cfg.label_noise, "noisy_images": plan.noisy_images},
        "pairs": _pairs_info(pairs, "test"),
        **({"val_pairs": _pairs_info(val_pairs, "val")} if val_pairs else {}),
        "seconds": round(time.perf_counter() - start, 2),
    }
    _atomic_write_bytes(paths.manifest, json.dumps(info, indent=2).encode())
    (root / IN_PROGRESS).unlink(missing_ok=True)
    return paths
