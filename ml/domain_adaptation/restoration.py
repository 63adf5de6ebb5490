"""The adapted segmenter as deployed: an intensity normaliser in front, the shape prior behind.

Two label-free steps after self-training (bench/domain_shift.py, last docstring section): the normaliser is
fitted again, now in front of the final model, against the shape prior (ml.domain_adaptation.shape_prior),
and at inference the prior restores the model's probabilities (its output, a denoising autoencoder's class
scores, replaces the segmenter's). `PriorRestoredSegmenter` is that network as one module, so inference,
uncertainty and evaluation use it like any segmenter; its state dict holds the three parts under
`normaliser.`, `segmenter.` and `prior.`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ml.domain_adaptation.shape_prior import (
    NORMALISER_LR,
    NORMALISER_STEPS,
    IntensityNormaliser,
    NormaliserResult,
    fit_normaliser,
    shape_prior_network,
)
from ml.segmentation.fcn import FCN


class PriorRestoredSegmenter(nn.Module):
    """x -> prior(softmax(segmenter(normaliser(x)))): class scores whose softmax is the prior's restoration
    of the segmenter's probabilities. `normaliser` None: the identity (the prior's restoration alone).
    `multiple`: what H and W must be multiples of, for the segmenter and the prior both."""

    def __init__(self, segmenter: nn.Module, prior: nn.Module, normaliser: nn.Module | None = None) -> None:
        super().__init__()
        self.normaliser = normaliser if normaliser is not None else nn.Identity()
        self.segmenter = segmenter
        self.prior = prior
        self.multiple = math.lcm(int(getattr(segmenter, "multiple", 16)), int(getattr(prior, "multiple", 16)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prior(torch.softmax(self.segmenter(self.normaliser(x)).float(), dim=1))


def base_segmenter(model: nn.Module) -> nn.Module:
    """The segmenter inside a `PriorRestoredSegmenter` (what adapting it again starts from), else `model`."""
    return model.segmenter if isinstance(model, PriorRestoredSegmenter) else model


def restored_segmenter(
    segmenter: nn.Module,
    prior: nn.Module,
    target_images: np.ndarray,
    *,
    steps: int = NORMALISER_STEPS,
    lr: float = NORMALISER_LR,
    seed: int = 0,
    device: torch.device | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_seconds: float | None = None,
) -> tuple[PriorRestoredSegmenter, NormaliserResult]:
    """Fit a normaliser in front of `segmenter` on the (M, H, W) unlabelled target images against `prior`
    (`fit_normaliser`; the segmenter and the images are left as they are) and put the prior behind it.
    Returns the network (eval mode, on the CPU, nothing trainable) and the fit's record."""
    fitted = fit_normaliser(
        segmenter, prior, target_images, steps=steps, lr=lr, seed=seed, device=device,
        should_stop=should_stop, max_seconds=max_seconds,
    )  # fmt: skip
    model = PriorRestoredSegmenter(fitted.model.segmenter, prior, fitted.model.normaliser).cpu().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, fitted


def restoration_config(model: nn.Module) -> dict[str, int]:
    """What `restored_segmenter_skeleton` needs, besides the segmenter, to rebuild `model` for its state
    dict: the normaliser's width and the prior's number of classes, read from the network itself."""
    if not (
        isinstance(model, PriorRestoredSegmenter)
        and isinstance(model.normaliser, IntensityNormaliser)
        and isinstance(model.prior, FCN)
    ):
        raise ValueError("not a restored segmenter with a fitted normaliser and an FCN shape prior")
    return {
        "normaliser_channels": model.normaliser.first.out_channels,
        "prior_classes": model.prior.config.n_classes,
    }


def restored_segmenter_skeleton(
    segmenter: nn.Module, normaliser_channels: int = 16, prior_classes: int = 4
) -> PriorRestoredSegmenter:
    """An unfitted `PriorRestoredSegmenter` around `segmenter`, of the shapes `restoration_config` records,
    to load a saved state dict into."""
    return PriorRestoredSegmenter(
        segmenter, shape_prior_network(prior_classes), IntensityNormaliser(normaliser_channels)
    )
