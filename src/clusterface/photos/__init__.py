"""Clustering people in a folder of ordinary photos: detect, align, embed (incrementally), cluster, show."""

from clusterface.photos.gallery import cluster_names, gallery_html, write_outputs
from clusterface.photos.pipeline import Face, PhotoClustering, choose_threshold, cluster_photos
from clusterface.photos.store import EmbeddingStore, PhotoFaces, file_sha256

__all__ = [
    "EmbeddingStore",
    "Face",
    "PhotoClustering",
    "PhotoFaces",
    "choose_threshold",
    "cluster_names",
    "cluster_photos",
    "file_sha256",
    "gallery_html",
    "write_outputs",
]
