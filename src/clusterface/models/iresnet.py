"""IResNet-18/34/50/100/200: insightface's face-recognition ResNets (112x112 -> 512-d).

Stage depths as insightface ``arcface_torch/backbones/iresnet.py``; the parameter names
follow its layout (conv1/bn1/prelu/layer1..4 + head), so that published configurations map
onto them.
"""

from __future__ import annotations

from torch import nn

from clusterface.models.layers import EmbeddingHead, conv3x3, init_weights, make_stage
from clusterface.models.registry import register_backbone

STAGE_DEPTHS: dict[str, tuple[int, int, int, int]] = {
    "iresnet18": (2, 2, 2, 2),
    "iresnet34": (3, 4, 6, 3),
    "iresnet50": (3, 4, 14, 3),
    "iresnet100": (3, 13, 30, 3),
    "iresnet200": (6, 26, 60, 6),
}


class IResNet(nn.Module):
    """Stem (conv3x3 s1, 64) + four stride-2 stages (64/128/256/512) + embedding head.

    Input (B, 3, 112, 112) in [-1, 1] -> (B, embedding_dim) unnormalised embedding.
    """

    def __init__(self, depths: tuple[int, int, int, int], embedding_dim: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        widths = (64, 128, 256, 512)
        self.conv1 = conv3x3(3, 64)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        stages, inplanes = [], 64
        for width, depth in zip(widths, depths, strict=True):
            stages.append(make_stage(inplanes, width, depth, stride=2))
            inplanes = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.head = EmbeddingHead(512, 7, embedding_dim, dropout)
        init_weights(self)

    def forward(self, x):  # type: ignore[no-untyped-def]
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.head(x)


def _factory(name: str) -> None:
    depths = STAGE_DEPTHS[name]

    @register_backbone(name)
    def build(embedding_dim: int = 512, dropout: float = 0.0) -> IResNet:
        return IResNet(depths, embedding_dim=embedding_dim, dropout=dropout)

    build.__name__ = name
    build.__doc__ = f"{name}: IResNet with stage depths {list(depths)} (insightface)."


for _name in STAGE_DEPTHS:
    _factory(_name)
