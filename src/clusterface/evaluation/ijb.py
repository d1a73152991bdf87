"""IJB-B / IJB-C 1:1 verification with templates (insightface ``recognition/_evaluation_/ijb/ijb_11.py``).

Meta files of a set NAME (``ijbb`` or ``ijbc``) in ``ROOT/meta/`` (or ``ROOT/``):

- ``NAME_face_tid_mid.txt``: ``image_name template_id media_id`` per image;
- ``NAME_template_pair_label.txt``: ``template_1 template_2 label`` per pair (1 = same identity);
- ``NAME_name_5pts_score.txt``: ``image_name x1 y1 ... x5 y5 detector_score`` per image.

Images are under ``ROOT/loose_crop/`` (or another directory). An image that is already
112×112 is taken as aligned; otherwise it is aligned to the ArcFace 5-point template with
a similarity transform from its landmarks (as insightface does for ``loose_crop``).

Template feature (docs/method.md, Evaluation protocols): image feature = emb(img) + emb(hflip(img))
(not normalised), times the detector score; mean over the images of a media; sum over the
media of a template; L2-normalise. Score = cosine of the two template features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from tqdm.auto import tqdm

from clusterface.data.decode import IMAGE_SIZE, ImageDecodeError, decode_image
from clusterface.evaluation.embedder import Embedder, as_embedder
from clusterface.evaluation.extract import extract_embeddings
from clusterface.evaluation.verification import DEFAULT_FARS, TarAtFar, tar_at_far, tar_at_far_dict
from clusterface.ops.face_template import ARCFACE_TEMPLATE, similarity_transform


class IJBFormatError(ValueError):
    """A missing or malformed IJB meta file; the message names the file (and line)."""


@dataclass
class IJBMeta:
    """The parsed meta files of one IJB set; per-image arrays are in the order of the 5pts file."""

    name: str
    image_names: list[str]
    templates: NDArray[np.int64]  # (I,) template id of each image
    medias: NDArray[np.int64]  # (I,) media id of each image
    landmarks: NDArray[np.float32]  # (I, 5, 2)
    detector_scores: NDArray[np.float32]  # (I,)
    pair_templates: NDArray[np.int64]  # (P, 2)
    pair_labels: NDArray[np.bool_]  # (P,)


def _read_rows(path: Path, columns: int, what: str) -> list[list[str]]:
    if not path.is_file():
        raise IJBFormatError(f"{path}: missing IJB meta file ({what})")
    rows = []
    with path.open() as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != columns:
                raise IJBFormatError(
                    f"{path}:{lineno}: expected {columns} columns ({what}), got {len(parts)}: {line.strip()[:80]!r}"
                )
            rows.append(parts)
    if not rows:
        raise IJBFormatError(f"{path}: empty IJB meta file ({what})")
    return rows


def _ints(rows: list[list[str]], cols: Sequence[int], path: Path) -> NDArray[np.int64]:
    try:
        return np.array([[int(r[c]) for c in cols] for r in rows], dtype=np.int64)
    except ValueError as err:
        raise IJBFormatError(f"{path}: expected integer ids ({err})") from err


def find_meta_dir(root: Path, name: str) -> Path:
    """``ROOT/meta`` if it holds the set's files, else ``ROOT``."""
    for d in (root / "meta", root):
        if (d / f"{name}_face_tid_mid.txt").is_file():
            return d
    return root / "meta" if (root / "meta").is_dir() else root


def detect_ijb_name(root: str | Path) -> str:
    """``ijbc`` or ``ijbb`` (whichever has a ``*_face_tid_mid.txt``), else the stem of the only such file."""
    root = Path(root)
    found = sorted(
        p.name[: -len("_face_tid_mid.txt")]
        for d in (root / "meta", root)
        if d.is_dir()
        for p in d.glob("*_face_tid_mid.txt")
    )
    if not found:
        raise IJBFormatError(f"{root}: no *_face_tid_mid.txt meta file (in {root}/meta or {root})")
    for preferred in ("ijbc", "ijbb"):
        if preferred in found:
            return preferred
    return found[0]


def read_ijb_meta(root: str | Path, name: str | None = None) -> IJBMeta:
    """Parse and cross-check the three meta files; errors name the file."""
    root = Path(root)
    name = name or detect_ijb_name(root)
    meta_dir = find_meta_dir(root, name)
    tid_path = meta_dir / f"{name}_face_tid_mid.txt"
    pair_path = meta_dir / f"{name}_template_pair_label.txt"
    lmk_path = meta_dir / f"{name}_name_5pts_score.txt"
    tid_rows = _read_rows(tid_path, 3, "image_name template_id media_id")
    pair_rows = _read_rows(pair_path, 3, "template_1 template_2 label")
    lmk_rows = _read_rows(lmk_path, 12, "image_name 10 landmark coordinates detector_score")

    tid = _ints(tid_rows, (1, 2), tid_path)
    by_name = {r[0]: i for i, r in enumerate(tid_rows)}
    if len(by_name) != len(tid_rows):
        raise IJBFormatError(f"{tid_path}: repeated image names")
    names = [r[0] for r in lmk_rows]
    missing = [n for n in names if n not in by_name]
    if missing:
        raise IJBFormatError(f"{lmk_path}: {len(missing)} images not listed in {tid_path.name} (e.g. {missing[0]})")
    if len(names) != len(tid_rows):
        raise IJBFormatError(f"{lmk_path}: {len(names)} images but {tid_path.name} lists {len(tid_rows)}")
    order = np.array([by_name[n] for n in names], dtype=np.int64)
    try:
        values = np.array([[float(v) for v in r[1:]] for r in lmk_rows], dtype=np.float32)
    except ValueError as err:
        raise IJBFormatError(f"{lmk_path}: landmarks and score must be numbers ({err})") from err
    pairs = _ints(pair_rows, (0, 1, 2), pair_path)
    if not np.isin(pairs[:, 2], (0, 1)).all():
        raise IJBFormatError(f"{pair_path}: labels must be 0 or 1")
    known = np.unique(tid[:, 0])
    unknown = ~np.isin(pairs[:, :2], known)
    if unknown.any():
        bad = pairs[:, :2][unknown][0]
        raise IJBFormatError(f"{pair_path}: template {bad} is not in {tid_path.name}")
    return IJBMeta(
        name=name,
        image_names=names,
        templates=tid[order, 0],
        medias=tid[order, 1],
        landmarks=values[:, :10].reshape(-1, 5, 2),
        detector_scores=values[:, 10],
        pair_templates=pairs[:, :2],
        pair_labels=pairs[:, 2].astype(bool),
    )


def align_face(
    image_hwc: NDArray[np.uint8], landmarks: NDArray[np.float32], size: int = IMAGE_SIZE
) -> NDArray[np.uint8]:
    """Warp an image so its 5 landmarks land on the ArcFace template (least-squares similarity transform)."""
    matrix = similarity_transform(landmarks, ARCFACE_TEMPLATE * (size / 112.0))
    return np.asarray(cv2.warpAffine(image_hwc, matrix, (size, size), borderValue=0.0), dtype=np.uint8)


def load_ijb_images(meta: IJBMeta, image_dir: Path, size: int = IMAGE_SIZE, progress: bool = True) -> NDArray[np.uint8]:
    """uint8 (I, 3, size, size) RGB crops: 112x112 files as they are, others aligned from their landmarks."""
    out = np.empty((len(meta.image_names), 3, size, size), dtype=np.uint8)
    for i, name in enumerate(tqdm(meta.image_names, desc="IJB images", disable=not progress, leave=False)):
        path = image_dir / name
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ImageDecodeError(f"{path}: cannot read IJB image ({err})") from err
        rgb = decode_image(data, str(path))  # the toolkit's one decoder (alpha, 16-bit, EXIF, CMYK handled)
        if rgb.shape[:2] != (size, size):
            out[i] = align_face(rgb, meta.landmarks[i], size).transpose(2, 0, 1)
        else:
            out[i] = rgb.transpose(2, 0, 1)
    return out


def image_to_template_features(
    image_features: NDArray[np.floating], templates: NDArray[np.int64], medias: NDArray[np.int64]
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """(template features (T, d) L2-normalised, template ids (T,)): mean within media, sum over media.

    Vectorised form of insightface's ``image2template_feature`` (same result).
    """
    feats = np.asarray(image_features, dtype=np.float64)
    uniq_t, t_idx = np.unique(templates, return_inverse=True)
    # one group per (template, media); a media shared by two templates is averaged per template, as the reference
    keys = t_idx.astype(np.int64) * (int(medias.max()) + 1 - min(0, int(medias.min()))) + (
        medias - min(0, int(medias.min()))
    )
    uniq_k, k_idx = np.unique(keys, return_inverse=True)
    sums = np.zeros((len(uniq_k), feats.shape[1]))
    np.add.at(sums, k_idx, feats)
    media_mean = sums / np.bincount(k_idx)[:, None]
    group_template = np.zeros(len(uniq_k), dtype=np.int64)
    group_template[k_idx] = t_idx
    template_feats = np.zeros((len(uniq_t), feats.shape[1]))
    np.add.at(template_feats, group_template, media_mean)
    norms = np.linalg.norm(template_feats, axis=1, keepdims=True)
    return (template_feats / np.maximum(norms, 1e-12)).astype(np.float32), uniq_t.astype(np.int64)


@dataclass
class IJBResult:
    """IJB 1:1 outcome: TAR@FAR over template pairs, and the scores for plots."""

    name: str
    tar: list[TarAtFar]
    num_images: int
    num_templates: int
    num_pairs: int
    scores: NDArray[np.float32] = field(repr=False)
    labels: NDArray[np.bool_] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tar_at_far": tar_at_far_dict(self.tar),
            "tar_at_far_unreachable": {f"{t.far:.0e}": t.reason for t in self.tar if t.tar is None},
            "num_images": self.num_images,
            "num_templates": self.num_templates,
            "num_pairs": self.num_pairs,
            "num_genuine": int(self.labels.sum()),
            "num_impostor": int((~self.labels).sum()),
        }


def score_template_pairs(
    template_feats: NDArray[np.float32],
    template_ids: NDArray[np.int64],
    pair_templates: NDArray[np.int64],
    batch: int = 100_000,
) -> NDArray[np.float32]:
    """Cosine score of each template pair (features already normalised), in batches."""
    pos = np.searchsorted(template_ids, pair_templates)
    scores = np.empty(len(pair_templates), dtype=np.float32)
    for s in range(0, len(pair_templates), batch):
        a = template_feats[pos[s : s + batch, 0]]
        b = template_feats[pos[s : s + batch, 1]]
        scores[s : s + batch] = np.einsum("ij,ij->i", a, b)
    return scores


def evaluate_ijb(
    model: nn.Module | Embedder | str | Path,
    root: str | Path,
    name: str | None = None,
    image_dir: str | Path | None = None,
    batch_size: int = 128,
    flip: bool = True,
    use_detector_score: bool = True,
    fars: Sequence[float] = DEFAULT_FARS,
    progress: bool = True,
) -> IJBResult:
    """IJB-B/C 1:1 template verification of a model on the set in ``root`` (see module docstring)."""
    root = Path(root)
    meta = read_ijb_meta(root, name)
    img_dir = Path(image_dir) if image_dir is not None else root / "loose_crop"
    if not img_dir.is_dir():
        raise IJBFormatError(f"{img_dir}: IJB image directory not found")
    images = load_ijb_images(meta, img_dir, progress=progress)
    feats = extract_embeddings(
        as_embedder(model),
        torch.from_numpy(images),
        flip=flip,
        batch_size=batch_size,
        normalize=False,  # insightface's default keeps the feature norm (use_norm_score=True)
        progress=progress,
        desc=meta.name,
    )
    if use_detector_score:
        feats = feats * meta.detector_scores[:, None]
    template_feats, template_ids = image_to_template_features(feats, meta.templates, meta.medias)
    scores = score_template_pairs(template_feats, template_ids, meta.pair_templates)
    return IJBResult(
        name=meta.name,
        tar=tar_at_far(scores, meta.pair_labels, fars),
        num_images=len(meta.image_names),
        num_templates=len(template_ids),
        num_pairs=len(scores),
        scores=scores,
        labels=meta.pair_labels,
    )
