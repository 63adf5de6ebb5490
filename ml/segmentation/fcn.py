"""The UK Biobank short-axis FCN (Bai et al., JCMR 2018).

A VGG-like encoder in 5 scales (2, 2, 3, 3, 3 conv3x3-BN-ReLU; channels width x 1, 2, 4, 8, 16; the first
conv of scales 2-5 has stride 2). The features of every scale are brought to full resolution by a
transposed convolution (kernel = stride = 2^scale), concatenated, fused by conv3x3-BN-ReLU layers and
mapped to the class scores by a 1x1 conv. Input height and width must be multiples of 16.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class FCNConfig:
    """`up_channels`/`fuse_channels` default to width and 4 x width (the paper's 16 and 64 at width 16)."""

    in_channels: int = 1
    n_classes: int = 4
    width: int = 16
    convs_per_scale: tuple[int, ...] = (2, 2, 3, 3, 3)
    up_channels: int | None = None
    fuse_channels: int | None = None
    n_fuse: int = 2
    dropout: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def tiny() -> FCNConfig:
    """For tests: a few thousand parameters."""
    return FCNConfig(width=4, convs_per_scale=(1, 1, 1, 1, 1), n_fuse=1)


def fast() -> FCNConfig:
    """A narrow configuration that trains in minutes and segments a 10 x 50 cine in seconds on CPU."""
    return FCNConfig(width=8, up_channels=4, fuse_channels=8, n_fuse=1, dropout=0.0)


class PatchUpsample(nn.ConvTranspose2d):
    """A transposed convolution with kernel = stride = `factor` (each input pixel becomes a learned
    factor x factor patch), computed as a 1x1 convolution to out x factor^2 channels and a pixel shuffle:
    the same result, several times faster on CPU than the generic transposed convolution."""

    def __init__(self, c_in: int, c_out: int, factor: int, bias: bool = True) -> None:
        super().__init__(c_in, c_out, kernel_size=factor, stride=factor, bias=bias)
        self.factor = factor

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        k, c_in, c_out = self.factor, self.in_channels, self.out_channels
        # weight (c_in, c_out, k, k) -> (c_out * k * k, c_in, 1, 1), channel order (o, a, b) as pixel_shuffle expects
        w = self.weight.reshape(c_in, c_out * k * k).t().reshape(c_out * k * k, c_in, 1, 1)
        y = F.pixel_shuffle(F.conv2d(x, w), k)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class FCN(nn.Module):
    """(N, in_channels, H, W) -> logits (N, n_classes, H, W)."""

    multiple = 16

    def __init__(self, config: FCNConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or FCNConfig()
        up = cfg.up_channels or cfg.width
        fuse = cfg.fuse_channels or 4 * cfg.width
        self.encoder = nn.ModuleList()
        self.upsample = nn.ModuleList()
        c_in = cfg.in_channels
        for scale, n_convs in enumerate(cfg.convs_per_scale):
            c_out = cfg.width * 2**scale
            layers = [conv_bn_relu(c_in, c_out, stride=2 if scale > 0 else 1)]
            layers += [conv_bn_relu(c_out, c_out) for _ in range(n_convs - 1)]
            self.encoder.append(nn.Sequential(*layers))
            factor = 2**scale
            self.upsample.append(
                nn.Sequential(
                    PatchUpsample(c_out, up, factor, bias=False)
                    if factor > 1
                    else nn.Conv2d(c_out, up, 1, bias=False),
                    nn.BatchNorm2d(up),
                    nn.ReLU(inplace=True),
                )
            )
            c_in = c_out
        self.dropout = nn.Dropout2d(cfg.dropout)
        fuse_layers = [
            conv_bn_relu(up * len(cfg.convs_per_scale) if i == 0 else fuse, fuse) for i in range(cfg.n_fuse)
        ]
        self.fuse = nn.Sequential(*fuse_layers)
        self.head = nn.Conv2d(fuse, cfg.n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple:
            raise ValueError(f"H and W must be multiples of {self.multiple}, got {tuple(x.shape[-2:])}")
        ups = []
        for enc, up in zip(self.encoder, self.upsample, strict=True):
            x = enc(x)
            ups.append(up(x))
        y = self.dropout(torch.cat(ups, dim=1))
        return self.head(self.fuse(y))
