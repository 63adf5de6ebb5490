"""How far apart two domains are in a network's features: a number that adaptation should shrink."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ml.domain_adaptation.taps import FeatureTaps


@torch.no_grad()
def pooled_features(
    model: nn.Module, taps: Sequence[str], x: torch.Tensor, batch_size: int = 32
) -> torch.Tensor:
    """Global-average-pooled tapped features, concatenated: x (N, C, *S) -> (N, sum of tapped channels),
    the model in eval mode."""
    was_training = model.training
    model.eval()
    out = []
    try:
        with FeatureTaps(model, taps) as tapped:
            for i in range(0, len(x), batch_size):
                model(x[i : i + batch_size])
                out.append(torch.cat([f.float().flatten(2).mean(dim=2) for f in tapped.features], dim=1))
    finally:
        model.train(was_training)
    return torch.cat(out)


def feature_gap(source: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> float:
    """Mean over feature channels of |mean_s - mean_t| / pooled standard deviation (a per-channel effect
    size, Cohen's d). source: (N, F); target: (M, F). 0 when the means agree."""
    ms, mt = source.mean(dim=0), target.mean(dim=0)
    pooled = ((source.var(dim=0, unbiased=False) + target.var(dim=0, unbiased=False)) / 2).sqrt()
    return float(((ms - mt).abs() / (pooled + eps)).mean())
