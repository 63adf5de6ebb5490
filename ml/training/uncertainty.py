"""Uncertainty for active learning: MC-dropout and test-time augmentation.

Outputs are class logits, (N, K) per frame or (N, K, H, W) per pixel; the uncertainty maps drop the class
axis: (N,) or (N, H, W).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
_EPS = 1e-12


@dataclass(frozen=True)
class Uncertainty:
    """mean_probs: (N, K[, H, W]); entropy, variance, mutual_info: (N[, H, W]).

    entropy is that of the mean prediction; variance is the across-sample variance of the class
    probabilities averaged over classes; mutual_info is BALD (entropy of the mean minus mean entropy).
    """

    mean_probs: torch.Tensor
    entropy: torch.Tensor
    variance: torch.Tensor
    mutual_info: torch.Tensor


@contextlib.contextmanager
def mc_dropout_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (BatchNorm uses running statistics) with only the dropout layers sampling."""
    states = {m: m.training for m in model.modules()}
    model.eval()
    for m in model.modules():
        if isinstance(m, _DROPOUT):
            m.train()
    try:
        yield model
    finally:
        for m, training in states.items():
            m.train(training)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) over the class axis 1: (N, K, ...) -> (N, ...)."""
    return -(probs * (probs + _EPS).log()).sum(dim=1)


def summarise_samples(probs: torch.Tensor) -> Uncertainty:
    """probs: (T, N, K, ...) softmax outputs of T stochastic passes -> `Uncertainty`."""
    mean = probs.mean(dim=0)
    h_mean = entropy(mean)
    mean_h = torch.stack([entropy(p) for p in probs]).mean(dim=0)
    variance = probs.var(dim=0, unbiased=False).mean(dim=1)
    return Uncertainty(mean, h_mean, variance, (h_mean - mean_h).clamp_min(0.0))


@torch.no_grad()
def mc_dropout_predict(model: nn.Module, x: torch.Tensor, n: int = 10) -> Uncertainty:
    """n stochastic forward passes with dropout on (and BatchNorm frozen). x: (N, C, H, W)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    with mc_dropout_mode(model):
        samples = torch.stack([torch.softmax(model(x).float(), dim=1) for _ in range(n)])
    return summarise_samples(samples)


@dataclass(frozen=True)
class Augmentation:
    """An invertible test-time transform: flip along H/W and a circular shift (dy, dx) in pixels."""

    flip_h: bool = False
    flip_w: bool = False
    dy: int = 0
    dx: int = 0

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W)."""
        dims = [d for d, f in ((-2, self.flip_h), (-1, self.flip_w)) if f]
        if dims:
            x = torch.flip(x, dims)
        if self.dy or self.dx:
            x = torch.roll(x, shifts=(self.dy, self.dx), dims=(-2, -1))
        return x

    def invert(self, y: torch.Tensor) -> torch.Tensor:
        """Undo `apply` on a per-pixel output (N, K, H, W)."""
        if self.dy or self.dx:
            y = torch.roll(y, shifts=(-self.dy, -self.dx), dims=(-2, -1))
        dims = [d for d, f in ((-2, self.flip_h), (-1, self.flip_w)) if f]
        if dims:
            y = torch.flip(y, dims)
        return y


def default_augmentations(shift: int = 4, flips: bool = True) -> list[Augmentation]:
    """Identity, horizontal/vertical flips and four small shifts."""
    augs = [Augmentation()]
    if flips:
        augs += [Augmentation(flip_w=True), Augmentation(flip_h=True)]
    if shift:
        augs += [Augmentation(dy=s, dx=0) for s in (-shift, shift)]
        augs += [Augmentation(dy=0, dx=s) for s in (-shift, shift)]
    return augs


@torch.no_grad()
def tta_predict(
    model: nn.Module, x: torch.Tensor, augmentations: list[Augmentation] | None = None
) -> Uncertainty:
    """Predict under each augmentation, map per-pixel outputs back, and summarise. x: (N, C, H, W).
    The model runs in eval mode (deterministic), so the spread comes from the augmentations alone."""
    augs = augmentations if augmentations is not None else default_augmentations()
    was_training = model.training
    model.eval()
    try:
        outs = []
        for aug in augs:
            probs = torch.softmax(model(aug.apply(x)).float(), dim=1)
            outs.append(aug.invert(probs) if probs.ndim == 4 else probs)
    finally:
        model.train(was_training)
    return summarise_samples(torch.stack(outs))
