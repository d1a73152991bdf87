"""Backbones: a registry and the networks registered in it.

Importing this package registers every backbone (iresnet18..200, mobilefacenet, cfnet_s).
"""

from clusterface.models import cfnet, iresnet, mobilefacenet
from clusterface.models.cfnet import CFNet
from clusterface.models.flops import count_flops, count_parameters
from clusterface.models.iresnet import IResNet
from clusterface.models.mobilefacenet import MobileFaceNet
from clusterface.models.preprocess import normalize_images
from clusterface.models.registry import create_backbone, list_backbones, register_backbone

__all__ = [
    "CFNet",
    "IResNet",
    "MobileFaceNet",
    "cfnet",
    "count_flops",
    "count_parameters",
    "create_backbone",
    "iresnet",
    "list_backbones",
    "mobilefacenet",
    "normalize_images",
    "register_backbone",
]
