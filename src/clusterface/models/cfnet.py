"""cfnet_s: the small CPU-friendly default backbone of the demo.

A stride-4 stem (two stride-2 3x3 convs, 112 -> 28) brings the expensive early
resolutions down at once; then three IResNet stages (28 -> 14 -> 7) and insightface's
BN - dropout - FC - BN1d head. See ``clusterface models`` for its parameters and FLOPs.
"""

from __future__ import annotations

from torch import nn

from clusterface.models.layers import EmbeddingHead, conv3x3, init_weights, make_stage
from clusterface.models.registry import register_backbone


class CFNet(nn.Module):
    """(B, 3, 112, 112) in [-1, 1] -> (B, embedding_dim)."""

    def __init__(
        self,
        embedding_dim: int = 512,
        dropout: float = 0.0,
        stem: tuple[int, int] = (16, 24),
        widths: tuple[int, ...] = (24, 48, 96),
        depths: tuple[int, ...] = (1, 1, 1),
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            conv3x3(3, stem[0], stride=2),
            nn.BatchNorm2d(stem[0]),
            nn.PReLU(stem[0]),
            conv3x3(stem[0], stem[1], stride=2),
            nn.BatchNorm2d(stem[1]),
            nn.PReLU(stem[1]),
        )
        stages, inplanes = [], stem[1]
        for i, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            stages.append(make_stage(inplanes, width, depth, stride=1 if i == 0 else 2))
            inplanes = width
        self.stages = nn.Sequential(*stages)
        spatial = 28 // 2 ** (len(widths) - 1)
        self.head = EmbeddingHead(inplanes, spatial, embedding_dim, dropout)
        init_weights(self)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.head(self.stages(self.stem(x)))


@register_backbone("cfnet_s")
def cfnet_s(embedding_dim: int = 512, dropout: float = 0.0) -> CFNet:
    """Small demo net: stride-4 stem (16, 24 ch), stages 24@28, 48@14, 96@7 (one block each).

    2.6 M parameters (2.4 M of them in the FC), 0.079 GFLOPs (FlopCounterMode, 2 per multiply-add) at 112x112.
    """
    return CFNet(embedding_dim=embedding_dim, dropout=dropout)
