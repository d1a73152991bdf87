"""MobileFaceNet (Chen et al. 2018), insightface's ``arcface_torch`` variant (scale 2)."""

from __future__ import annotations

from torch import nn

from clusterface.models.layers import init_weights
from clusterface.models.registry import register_backbone


class ConvBlock(nn.Sequential):
    """conv - BN - PReLU."""

    def __init__(self, in_c: int, out_c: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1):
        super().__init__(
            nn.Conv2d(in_c, out_c, kernel, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_c),
            nn.PReLU(out_c),
        )


class LinearBlock(nn.Sequential):
    """conv - BN (no activation)."""

    def __init__(self, in_c: int, out_c: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1):
        super().__init__(
            nn.Conv2d(in_c, out_c, kernel, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_c),
        )


class DepthWise(nn.Module):
    """Inverted bottleneck: 1x1 expand - depthwise 3x3 - 1x1 linear project (+ residual)."""

    def __init__(self, in_c: int, out_c: int, residual: bool, stride: int, groups: int) -> None:
        super().__init__()
        self.residual = residual
        self.layers = nn.Sequential(
            ConvBlock(in_c, groups),
            ConvBlock(groups, groups, kernel=3, stride=stride, padding=1, groups=groups),
            LinearBlock(groups, out_c),
        )

    def forward(self, x):  # type: ignore[no-untyped-def]
        out = self.layers(x)
        return x + out if self.residual else out


def residual_stage(channels: int, blocks: int, groups: int) -> nn.Sequential:
    """``blocks`` residual DepthWise blocks at constant width and resolution."""
    return nn.Sequential(*[DepthWise(channels, channels, True, 1, groups) for _ in range(blocks)])


class GDC(nn.Module):
    """Global depthwise conv head: 7x7 depthwise - flatten - dropout - FC - BN1d."""

    def __init__(self, embedding_dim: int, dropout: float) -> None:
        super().__init__()
        self.conv = LinearBlock(512, 512, kernel=7, groups=512)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(512, embedding_dim, bias=False)
        self.features = nn.BatchNorm1d(embedding_dim)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.features(self.fc(self.dropout(self.conv(x).flatten(1))))


class MobileFaceNet(nn.Module):
    """(B, 3, 112, 112) -> (B, embedding_dim); blocks (1, 4, 6, 2), width scale 2."""

    def __init__(self, embedding_dim: int = 512, dropout: float = 0.0, scale: int = 2) -> None:
        super().__init__()
        c1, c2 = 64 * scale, 128 * scale
        self.layers = nn.Sequential(
            ConvBlock(3, c1, kernel=3, stride=2, padding=1),
            ConvBlock(c1, c1, kernel=3, stride=1, padding=1, groups=c1),
            DepthWise(c1, c1, False, 2, 128),
            residual_stage(c1, 4, 128),
            DepthWise(c1, c2, False, 2, 256),
            residual_stage(c2, 6, 256),
            DepthWise(c2, c2, False, 2, 512),
            residual_stage(c2, 2, 256),
            ConvBlock(c2, 512),
        )
        self.head = GDC(embedding_dim, dropout)
        init_weights(self)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.head(self.layers(x))


@register_backbone("mobilefacenet")
def mobilefacenet(embedding_dim: int = 512, dropout: float = 0.0) -> MobileFaceNet:
    """MobileFaceNet as insightface's arcface_torch (scale 2, blocks 1-4-6-2, GDC head)."""
    return MobileFaceNet(embedding_dim=embedding_dim, dropout=dropout)
