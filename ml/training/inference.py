"""Inference helpers shared by the model families: per-image normalisation, BatchNorm folding, layout."""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def normalise_per_image(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Zero mean, unit standard deviation per image over the last two axes: (..., H, W) -> same, float32."""
    x = x.float()
    mean = x.mean(dim=(-2, -1), keepdim=True)
    std = x.std(dim=(-2, -1), keepdim=True, unbiased=False)
    return (x - mean) / (std + eps)


def fuse_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of `model` in eval mode with every BatchNorm2d that directly follows a Conv2d or
    ConvTranspose2d inside an nn.Sequential folded into that convolution (and replaced by Identity)."""
    fused = copy.deepcopy(model).eval()
    for module in fused.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for a, b in itertools.pairwise(names):
            conv, bn = module._modules[a], module._modules[b]
            if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(bn, nn.BatchNorm2d):
                transpose = isinstance(conv, nn.ConvTranspose2d)
                module._modules[a] = fuse_conv_bn_eval(conv, bn, transpose=transpose)
                module._modules[b] = nn.Identity()
    return fused


def prepare_for_inference(
    model: nn.Module, device: torch.device, *, fuse: bool = True, channels_last: bool = True
) -> nn.Module:
    """An eval-mode copy on `device`, with BatchNorm folded and channels-last weights (faster on CPU)."""
    m = fuse_batchnorm(model) if fuse else copy.deepcopy(model).eval()
    m = m.to(device)
    if channels_last:
        m = m.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return m
