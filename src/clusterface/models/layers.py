"""Small building blocks shared by the backbones."""

from __future__ import annotations

from torch import nn


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class IBasicBlock(nn.Module):
    """insightface's IResNet block: BN-conv3x3-BN-PReLU-conv3x3(stride)-BN, plus the shortcut.

    (B, inplanes, H, W) -> (B, planes, H/stride, W/stride).
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-5)
        self.conv1 = conv3x3(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-5)
        self.prelu = nn.PReLU(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-5)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes, eps=1e-5))

    def forward(self, x):  # type: ignore[no-untyped-def]
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


def make_stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    """``blocks`` IBasicBlocks, the first one changing width and resolution."""
    layers = [IBasicBlock(inplanes, planes, stride)]
    layers += [IBasicBlock(planes, planes, 1) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class EmbeddingHead(nn.Module):
    """insightface's IResNet head: BN2d - flatten - dropout - FC - BN1d -> (B, embedding_dim).

    The final BN1d has its scale frozen at 1 (as insightface's ``features`` layer), so its
    weight is the one parameter of a backbone that never receives a gradient.
    """

    def __init__(self, channels: int, spatial: int, embedding_dim: int, dropout: float) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, eps=1e-5)
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(channels * spatial * spatial, embedding_dim)
        self.features = nn.BatchNorm1d(embedding_dim, eps=1e-5)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False

    def forward(self, x):  # type: ignore[no-untyped-def]
        x = self.dropout(self.bn(x).flatten(1))
        return self.features(self.fc(x))


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal convolutions, BN at identity, as insightface/torchvision ResNets."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
            nn.init.constant_(m.weight, 1.0)
            nn.init.constant_(m.bias, 0.0)
