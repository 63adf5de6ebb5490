"""Simulated acquisition: fully sampled images -> undersampled k-space and zero-filled images."""

from __future__ import annotations

import numpy as np
import torch

from ml.reconstruction.fft import complex_to_real, fft2c, ifft2c
from ml.reconstruction.masks import cartesian_mask


def undersample(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """image: complex (N, [T,] H, W); mask: (N, [T,] H, W) or broadcastable.

    Returns (zero-filled image (N, 2, [T,] H, W) real/imag, measured k-space complex (N, [T,] H, W),
    zero where not sampled).
    """
    k0 = fft2c(image) * mask
    return complex_to_real(ifft2c(k0)), k0


def random_masks(
    shape: tuple[int, ...], acceleration: float, centre_lines: int, rng: np.random.Generator
) -> np.ndarray:
    """A fresh mask per sample. shape: (N, H, W) or (N, T, H, W) -> float32 of that shape."""
    seeds = rng.integers(0, 2**31 - 1, size=shape[0])
    return np.stack([cartesian_mask(shape[1:], acceleration, centre_lines, int(s)) for s in seeds])
