"""Backbones: a registry and the networks registered in it."""

from clusterface.models.preprocess import normalize_images
from clusterface.models.registry import create_backbone, list_backbones, register_backbone

__all__ = ["create_backbone", "list_backbones", "normalize_images", "register_backbone"]
