"""Reconstruction quality: PSNR, SSIM and NMSE, per image and aggregated per volume as fastMRI does.

Inputs are real arrays (magnitude images). The default `data_range` is the ground truth's maximum (fastMRI's
convention, which treats the background as 0), not the dtype range.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import ndimage


def _pair(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gt, pred = np.asarray(gt, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    if gt.shape != pred.shape:
        raise ValueError(f"shapes differ: {gt.shape} vs {pred.shape}")
    return gt, pred


def nmse(gt: np.ndarray, pred: np.ndarray) -> float:
    """||gt - pred||^2 / ||gt||^2 (inf when gt is all zeros and pred is not; 0 when both are)."""
    gt, pred = _pair(gt, pred)
    num = float(np.sum((gt - pred) ** 2))
    den = float(np.sum(gt**2))
    if den == 0.0:
        return 0.0 if num == 0.0 else float("inf")
    return num / den


def psnr(gt: np.ndarray, pred: np.ndarray, data_range: float | None = None) -> float:
    """10 log10(data_range^2 / MSE) in dB; data_range defaults to gt.max(). inf for identical images."""
    gt, pred = _pair(gt, pred)
    dr = float(gt.max()) if data_range is None else float(data_range)
    mse = float(np.mean((gt - pred) ** 2))
    if mse == 0.0:
        return float("inf")
    return 10.0 * np.log10(dr * dr / mse)


def ssim(
    gt: np.ndarray,
    pred: np.ndarray,
    data_range: float | None = None,
    *,
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    """Mean structural similarity with a win_size x win_size uniform window (Wang et al. 2004, with the
    sample-covariance correction and border crop of skimage's defaults).

    gt, pred: (H, W) or (..., H, W); leading dims are 2D slices whose SSIMs are averaged (fastMRI's volume SSIM).
    data_range defaults to gt.max() over the whole array.
    """
    gt, pred = _pair(gt, pred)
    if gt.ndim < 2 or min(gt.shape[-2:]) < win_size:
        raise ValueError(f"need images at least {win_size}x{win_size}, got {gt.shape}")
    dr = float(gt.max()) if data_range is None else float(data_range)
    x = gt.reshape(-1, *gt.shape[-2:])
    y = pred.reshape(-1, *pred.shape[-2:])
    size = (1, win_size, win_size)
    n = win_size * win_size
    cov_norm = n / (n - 1.0)
    ux = ndimage.uniform_filter(x, size=size)
    uy = ndimage.uniform_filter(y, size=size)
    uxx = ndimage.uniform_filter(x * x, size=size)
    uyy = ndimage.uniform_filter(y * y, size=size)
    uxy = ndimage.uniform_filter(x * y, size=size)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1, c2 = (k1 * dr) ** 2, (k2 * dr) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (win_size - 1) // 2
    s = s[:, pad : s.shape[1] - pad, pad : s.shape[2] - pad]
    return float(s.reshape(s.shape[0], -1).mean(axis=1).mean())


class VolumeMetrics(NamedTuple):
    """Mean and SD over volumes of the per-volume metric; n volumes."""

    psnr: float
    psnr_sd: float
    ssim: float
    ssim_sd: float
    nmse: float
    nmse_sd: float
    n: int


def volume_metrics(gts: Sequence[np.ndarray], preds: Sequence[np.ndarray]) -> VolumeMetrics:
    """fastMRI-style aggregation: each volume (..., H, W) is scored as a whole (its own gt.max() as data range,
    SSIM averaged over its slices), then the per-volume values are averaged."""
    if len(gts) != len(preds) or len(gts) == 0:
        raise ValueError("need the same, non-zero number of ground-truth and predicted volumes")
    p = np.array([psnr(g, q) for g, q in zip(gts, preds, strict=True)])
    s = np.array([ssim(g, q) for g, q in zip(gts, preds, strict=True)])
    e = np.array([nmse(g, q) for g, q in zip(gts, preds, strict=True)])
    return VolumeMetrics(
        psnr=float(p.mean()),
        psnr_sd=float(p.std()),
        ssim=float(s.mean()),
        ssim_sd=float(s.std()),
        nmse=float(e.mean()),
        nmse_sd=float(e.std()),
        n=len(gts),
    )
