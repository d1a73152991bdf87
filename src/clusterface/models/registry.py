"""Backbone registry and factory (timm-style ``@register_backbone`` / ``create_backbone``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

BackboneFactory = Callable[..., nn.Module]
_REGISTRY: dict[str, BackboneFactory] = {}


def register_backbone(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    """Decorator: register ``factory(embedding_dim=..., **kw) -> nn.Module`` under ``name``."""

    def wrap(factory: BackboneFactory) -> BackboneFactory:
        if name in _REGISTRY:
            raise ValueError(f"backbone {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return wrap


def list_backbones() -> list[str]:
    """Names of all registered backbones, sorted."""
    return sorted(_REGISTRY)


def create_backbone(name: str, embedding_dim: int = 512, **kwargs: Any) -> nn.Module:
    """Build a registered backbone: input (B, 3, 112, 112) -> embeddings (B, embedding_dim)."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown backbone {name!r}; available: {', '.join(list_backbones()) or '(none)'}")
    return _REGISTRY[name](embedding_dim=embedding_dim, **kwargs)
