"""``cluster_photos``: photos -> faces -> embeddings -> clusters, reusing what earlier runs computed.

Every photo under PHOTOS is hashed; photos seen before (same bytes, same model, same detector
settings) take their faces and embeddings from the store, the others are detected, aligned to the
ArcFace template and embedded. All faces are then clustered together (any method of
``clusterface.clustering``) and ``gallery.write_outputs`` writes a folder per person and an HTML page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from clusterface.align import (
    ARCFACE_TEMPLATE,
    Detection,
    FaceDetector,
    detect_faces,
    iter_photos,
    read_photo,
    warp_face,
)
from clusterface.align.template import similarity_transform
from clusterface.inference import FaceEmbedder
from clusterface.photos.store import EmbeddingStore, PhotoFaces, file_sha256, model_key

CACHE_DIR = ".cache"


@dataclass
class Face:
    """One face: its photo, the photo's content hash, its index there, box, detector score, landmarks, crop file."""

    photo: Path
    sha: str
    index: int
    box: NDArray[np.float64]
    score: float
    landmarks: NDArray[np.float64]
    crop: Path


@dataclass
class PhotoClustering:
    """Faces (N), their embeddings (N, d) and cluster ids (N,), and what was reused or skipped."""

    source: Path
    faces: list[Face]
    embeddings: NDArray[np.float32]
    assignment: NDArray[np.int64]
    method: str
    threshold: float
    threshold_source: str
    photos: int = 0
    reused_photos: int = 0
    detected_photos: int = 0
    no_face: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)


def model_files(model: FaceEmbedder) -> list[Path]:
    """The files whose bytes define the model (the cache key)."""
    src = model.source
    if src.is_dir():
        names = ("model.onnx",) if model.kind == "onnx" else ("model.safetensors", "model.json")
        return [src / n for n in names if (src / n).is_file()]
    return [src]


def choose_threshold(model: FaceEmbedder, threshold: float | None, far: float) -> tuple[float, str]:
    """The given threshold, else the model's calibrated one at ``far``, else the clustering default 0.5."""
    from clusterface.clustering.pipeline import DEFAULT_SIMILARITY_THRESHOLD

    if threshold is not None:
        return threshold, "given"
    try:
        t = model.metadata.threshold_for(far)
        return t.threshold, f"calibrated at FAR {far:.0e}"
    except KeyError:
        return DEFAULT_SIMILARITY_THRESHOLD, "default (the model has no calibrated threshold)"


def _crop_path(out: Path, sha: str, index: int) -> Path:
    return out / "faces" / f"{sha[:16]}_{index}.png"


def _write_crop(path: Path, crop: NDArray[np.uint8]) -> None:
    if not cv2.imwrite(str(path), np.ascontiguousarray(crop[:, :, ::-1])):
        raise OSError(f"{path}: cannot write the crop (disk full or no permission?)")


Pending = list[tuple[Path, str, list[Detection], list[NDArray[np.uint8]]]]  # new photos: detections + crops


def _scan(
    src: Path, store: EmbeddingStore, detector: FaceDetector, result: PhotoClustering, progress: bool
) -> tuple[list[tuple[Path, str]], Pending]:
    """Hash every photo; detect and align the ones the store does not know. Returns (photo, sha) in order
    and the new photos' detections and crops."""
    pending: Pending = []
    per_photo: list[tuple[Path, str]] = []
    for photo in tqdm(list(iter_photos(src)), desc="faces", unit="photo", disable=not progress):
        result.photos += 1
        try:
            sha = file_sha256(photo)
            known = store.get(sha) is not None
            rgb = None if known else read_photo(photo)
        except (OSError, ValueError) as err:
            result.unreadable.append((photo, str(err)))
            continue
        per_photo.append((photo, sha))
        if rgb is None:
            result.reused_photos += 1
            continue
        result.detected_photos += 1
        found = detect_faces(detector, rgb)
        pending.append((photo, sha, found, [warp_face(rgb, d.transform) for d in found]))
    return per_photo, pending


def _store_new(pending: Pending, store: EmbeddingStore, model: FaceEmbedder, out: Path, progress: bool) -> None:
    """Embed every new crop (in batches), file faces and embeddings in the store, write the crops."""
    all_crops = [c for _, _, _, crops in pending for c in crops]
    new_emb = model.embed(np.stack(all_crops), progress=progress) if all_crops else np.zeros((0, 1), np.float32)
    pos = 0
    for _photo, sha, found, crops in pending:
        n = len(found)
        store.put(
            sha,
            PhotoFaces(
                np.array([d.box for d in found], dtype=np.float64).reshape(n, 4),
                np.array([d.score for d in found], dtype=np.float64),
                np.array([d.landmarks for d in found], dtype=np.float64).reshape(n, 5, 2),
                new_emb[pos : pos + n].astype(np.float32),
            ),
        )
        for i, crop in enumerate(crops):
            _write_crop(_crop_path(out, sha, i), crop)
        pos += n
    dims = [f.embeddings.shape[1] for f in store.entries.values() if len(f)]
    if store.entries:
        store.save(model.metadata.embedding_size or (dims[0] if dims else 1))


def _gather(per_photo: list[tuple[Path, str]], store: EmbeddingStore, out: Path, result: PhotoClustering) -> None:
    """Every face of this run's photos, in photo order, into ``result`` (faces, embeddings, no_face)."""
    rows = []
    for photo, sha in per_photo:
        faces = store.get(sha)
        assert faces is not None
        if len(faces) == 0:
            result.no_face.append(photo)
        for i in range(len(faces)):
            crop_file = _crop_path(out, sha, i)
            if not crop_file.is_file():  # a stored face whose crop was deleted: the landmarks rebuild it
                m = similarity_transform(faces.landmarks[i], ARCFACE_TEMPLATE)
                _write_crop(crop_file, warp_face(read_photo(photo), m))
            result.faces.append(
                Face(photo, sha, i, faces.boxes[i], float(faces.scores[i]), faces.landmarks[i], crop_file)
            )
            rows.append(faces.embeddings[i])
    result.embeddings = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 1), np.float32)


def cluster_photos(
    photos: str | Path,
    out: str | Path,
    model: FaceEmbedder,
    detector: FaceDetector,
    method: str = "infomap",
    threshold: float | None = None,
    far: float = 1e-3,
    k: int = 20,
    num_clusters: int | None = None,
    progress: bool = True,
) -> PhotoClustering:
    """Detect, embed (or reuse) and cluster every face under ``photos``; crops and the store go under ``out``."""
    from clusterface.clustering.pipeline import ClusteringOptions, cluster_features

    src, out = Path(photos), Path(out)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such file or folder")
    (out / "faces").mkdir(parents=True, exist_ok=True)
    key = model_key(model_files(model), f"{detector.settings}|{model.input_size}")
    store = EmbeddingStore(out / CACHE_DIR / f"faces-{key}.npz")
    t, t_source = choose_threshold(model, threshold, far)
    result = PhotoClustering(src, [], np.zeros((0, 0), np.float32), np.zeros(0, np.int64), method, t, t_source)
    per_photo, pending = _scan(src, store, detector, result, progress)
    _store_new(pending, store, model, out, progress)
    _gather(per_photo, store, out, result)
    n = len(result.faces)
    if n == 1 or (n > 1 and float(np.ptp(result.embeddings, axis=0).max()) <= 1e-6):
        # one face, or only copies of one photo (the clustering's collapsed-model check would refuse these)
        result.assignment = np.zeros(n, np.int64)
    elif n > 1:
        opts = ClusteringOptions(threshold=t, k=min(k, n - 1), num_clusters=num_clusters)
        result.assignment = cluster_features(result.embeddings, method, opts)
    return result
