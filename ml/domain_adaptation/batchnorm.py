"""Target-domain BatchNorm statistics (AdaBN, Li et al. 2016): re-estimate every BatchNorm layer's running
mean and variance on unlabelled target images, weights unchanged. Used as the last step of adaptation, so
the adapted model normalises target features with target statistics."""

from __future__ import annotations

import copy

import torch
from torch import nn

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, images: torch.Tensor, batch_size: int = 32) -> nn.Module:
    """A copy of `model` whose BatchNorm running statistics are the exact (cumulative) mean and variance
    over `images` (N, C, *S), already normalised as the model expects. Returns the copy in eval mode."""
    net = copy.deepcopy(model)
    layers = [m for m in net.modules() if isinstance(m, _BN)]
    if not layers:
        return net.eval()
    saved = {}
    for m in layers:
        m.reset_running_stats()
        saved[m] = m.momentum
        m.momentum = None  # cumulative moving average: every batch counts equally
    net.eval()
    for m in layers:
        m.train()
    device = next(net.parameters()).device
    for i in range(0, len(images), batch_size):
        net(images[i : i + batch_size].to(device))
    for m in layers:
        m.momentum = saved[m]
    return net.eval()
