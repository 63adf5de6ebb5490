"""Per-slice MC-dropout and test-time-augmentation uncertainty of a DeepMedic over one volume.

The 2D helpers in ml.training.uncertainty take (N, C, H, W) inputs whose outputs keep the input's size; a
DeepMedic's output is the central region of a padded input, so here the whole volume runs as one padded
pass and the maps are cropped back to the volume. MC dropout samples the Dropout3d before the 1x1x1
layers (`DeepMedicConfig.dropout`; with 0 every sample agrees and the scores are 0, as for a 2D model
without dropout). TTA flips and shifts in-plane; a flipped pass maps back onto the volume's voxels exactly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from ml.segmentation.deepmedic import DeepMedic, padded_input
from ml.training.uncertainty import (
    Augmentation,
    default_augmentations,
    mc_dropout_mode,
    summarise_samples,
)

VolumeUncertainty = Literal["bald", "mc_variance", "tta_variance"]


@torch.no_grad()
def slice_uncertainty(
    model: DeepMedic,
    volume: np.ndarray | torch.Tensor,
    kind: VolumeUncertainty,
    *,
    n: int = 8,
    augmentations: list[Augmentation] | None = None,
) -> np.ndarray:
    """volume (D, H, W) -> (D,) float64: the mean over each slice of the BALD ('bald') or class-probability
    variance ('mc_variance') of `n` dropout samples, or the variance under `augmentations` ('tta_variance')."""
    if kind not in ("bald", "mc_variance", "tta_variance"):
        raise ValueError(f"unknown uncertainty {kind!r}; expected bald, mc_variance or tta_variance")
    x, size, _ = padded_input(model, volume)
    x = x.to(next(model.parameters()).device)
    if kind == "tta_variance":
        was_training = model.training
        model.eval()
        try:
            augs = augmentations if augmentations is not None else default_augmentations()
            samples = torch.stack(
                [aug.invert(torch.softmax(model(aug.apply(x)).float(), dim=1)) for aug in augs]
            )
        finally:
            model.train(was_training)
    else:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        with mc_dropout_mode(model):
            samples = torch.stack([torch.softmax(model(x).float(), dim=1) for _ in range(n)])
    result = summarise_samples(samples)
    values = result.mutual_info if kind == "bald" else result.variance  # (1, *extent)
    d, h, w = size
    return values[0, :d, :h, :w].mean(dim=(1, 2)).cpu().numpy().astype(np.float64)
