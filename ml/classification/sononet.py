"""SonoNet (Baumgartner et al., IEEE TMI 2017): real-time standard-plane detection in fetal ultrasound.

Thirteen conv3x3-BN-ReLU layers in 5 VGG-style blocks (2, 2, 3, 3, 3 convs; features F x 1, 2, 4, 8, 8
with F = 16, 32 or 64; 2x2 max pooling between blocks), then the adaptation layer: a 1x1 conv to
F x 4 channels, BN-ReLU, and a 1x1 conv to K category-specific feature maps (the category maps used for
weak localisation); global average pooling gives the logits. Input (N, 1, 224, 288).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

INPUT_SIZE = (224, 288)  # (height, width)


@dataclass(frozen=True)
class SonoNetConfig:
    features: int = 16
    n_classes: int = 14
    in_channels: int = 1
    convs_per_block: tuple[int, ...] = (2, 2, 3, 3, 3)
    multipliers: tuple[int, ...] = (1, 2, 4, 8, 8)
    adaptation_multiplier: int = 4
    dropout: float = 0.0
    input_size: tuple[int, int] = INPUT_SIZE  # frames are resized to this (H, W) before the network

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def sononet16() -> SonoNetConfig:
    return SonoNetConfig(features=16)


def sononet32() -> SonoNetConfig:
    return SonoNetConfig(features=32)


def sononet64() -> SonoNetConfig:
    return SonoNetConfig(features=64)


def tiny() -> SonoNetConfig:
    """For tests: still 13 convolutions, 4 base features."""
    return SonoNetConfig(features=4, adaptation_multiplier=2)


def _conv_bn_relu(c_in: int, c_out: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SonoNet(nn.Module):
    """(N, 1, H, W) -> logits (N, K). `category_maps(x)` gives the (N, K, H/16, W/16) maps before pooling."""

    def __init__(self, config: SonoNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or SonoNetConfig()
        blocks: list[nn.Module] = []
        c_in = cfg.in_channels
        for b, (n_convs, mult) in enumerate(zip(cfg.convs_per_block, cfg.multipliers, strict=True)):
            c_out = cfg.features * mult
            layers: list[nn.Module] = [nn.MaxPool2d(2)] if b > 0 else []
            for i in range(n_convs):
                layers.append(_conv_bn_relu(c_in if i == 0 else c_out, c_out))
            blocks.append(nn.Sequential(*layers))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        hidden = cfg.features * cfg.adaptation_multiplier
        self.adaptation = nn.Sequential(
            nn.Dropout2d(cfg.dropout),
            nn.Conv2d(c_in, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, cfg.n_classes, 1, bias=False),
            nn.BatchNorm2d(cfg.n_classes),
        )

    def category_maps(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) -> (N, K, H/16, W/16) category-specific feature maps."""
        return self.adaptation(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.category_maps(x).mean(dim=(-2, -1))
