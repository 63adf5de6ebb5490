"""A U-Net (Ronneberger et al. 2015) with BatchNorm, as an alternative to the FCN with the same interface:
(N, in_channels, H, W) -> logits (N, n_classes, H, W), H and W multiples of 2**depth."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ml.segmentation.fcn import conv_bn_relu


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 1
    n_classes: int = 4
    width: int = 16
    depth: int = 4
    dropout: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def tiny() -> UNetConfig:
    return UNetConfig(width=4, depth=4)


class UNet(nn.Module):
    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or UNetConfig()
        self.multiple = 2**cfg.depth
        widths = [cfg.width * 2**i for i in range(cfg.depth + 1)]
        self.down = nn.ModuleList()
        c_in = cfg.in_channels
        for w in widths:
            self.down.append(nn.Sequential(conv_bn_relu(c_in, w), conv_bn_relu(w, w)))
            c_in = w
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout2d(cfg.dropout)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for w_low, w_high in zip(reversed(widths[1:]), reversed(widths[:-1]), strict=True):
            self.up.append(nn.ConvTranspose2d(w_low, w_high, 2, stride=2))
            self.dec.append(nn.Sequential(conv_bn_relu(2 * w_high, w_high), conv_bn_relu(w_high, w_high)))
        self.head = nn.Conv2d(widths[0], cfg.n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple:
            raise ValueError(f"H and W must be multiples of {self.multiple}, got {tuple(x.shape[-2:])}")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = self.dropout(skips.pop())
        for up, dec in zip(self.up, self.dec, strict=True):
            x = dec(torch.cat([up(x), skips.pop()], dim=1))
        return self.head(x)
