"""The domain discriminator of Kamnitsas et al. 2017: a small CNN over feature maps tapped from several
layers of the task network, brought to one spatial size and concatenated on the channel axis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DiscriminatorConfig:
    """`reduce`: channels each tapped map is projected to (1x1 conv) before concatenation, so a wide deep
    layer does not swamp a narrow early one. `n_layers` conv-LeakyReLU layers of `width` channels, the
    ones after the first with stride 2; `dims` 2 or 3 (volumetric taps)."""

    width: int = 32
    reduce: int = 16
    n_layers: int = 3
    dims: int = 2

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def resize_to(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """(N, C, *S) -> (N, C, *size): area averaging when shrinking every axis, (bi/tri)linear otherwise."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    if all(s <= t for s, t in zip(size, x.shape[2:], strict=True)):
        out = F.adaptive_avg_pool2d(x, tuple(size)) if x.ndim == 4 else F.adaptive_avg_pool3d(x, tuple(size))  # type: ignore[arg-type]
        return out
    mode = "bilinear" if x.ndim == 4 else "trilinear"
    return F.interpolate(x, size=tuple(size), mode=mode, align_corners=False)


class MultiLayerDiscriminator(nn.Module):
    """features: list of (N, C_i, *S_i) -> domain logits (N, 1, *s), one per patch (s = S_0 / 2^(n_layers-1)
    rounded up). Every map is resized to the first one's size `S_0` (or `size` when given)."""

    def __init__(
        self,
        in_channels: Sequence[int],
        config: DiscriminatorConfig | None = None,
        size: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.config = cfg = config or DiscriminatorConfig()
        if cfg.dims not in (2, 3):
            raise ValueError(f"dims must be 2 or 3, got {cfg.dims}")
        conv: type[nn.Conv2d] | type[nn.Conv3d] = nn.Conv2d if cfg.dims == 2 else nn.Conv3d
        self.size = tuple(size) if size is not None else None
        self.project = nn.ModuleList(conv(c, cfg.reduce, 1) for c in in_channels)
        layers: list[nn.Module] = []
        c = cfg.reduce * len(in_channels)
        for i in range(cfg.n_layers):
            layers += [conv(c, cfg.width, 3, stride=1 if i == 0 else 2, padding=1), nn.LeakyReLU(0.2)]
            c = cfg.width
        layers.append(conv(c, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(features) != len(self.project):
            raise ValueError(f"expected {len(self.project)} feature maps, got {len(features)}")
        size = self.size or tuple(features[0].shape[2:])
        maps = [proj(resize_to(f.float(), size)) for proj, f in zip(self.project, features, strict=True)]
        out: torch.Tensor = self.body(torch.cat(maps, dim=1))
        return out


def domain_loss(logits: torch.Tensor, is_target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of patch logits (N, 1, *s) against the per-sample domain (N,) (1 = target)."""
    labels = is_target.to(logits.dtype).view(-1, *([1] * (logits.ndim - 1))).expand_as(logits)
    return F.binary_cross_entropy_with_logits(logits, labels)


def domain_accuracy(logits: torch.Tensor, is_target: torch.Tensor) -> float:
    """Fraction of samples whose mean patch logit has the sign of their domain (0.5 = chance)."""
    mean = logits.flatten(1).mean(dim=1)
    return float(((mean > 0) == is_target.bool()).float().mean())
