"""Image appearance statistics for diversity selection: what a scanner or sequence changes in an image,
whatever the anatomy. A model's pooled features trained on one site's few cases need not separate another
site's images from its own; these statistics do, so that a diversity strategy can see scanner differences.

Per image: the histogram of intensities scaled robustly to [0, 1] (the 1st to 99th percentile), which a
different transfer curve or contrast changes; and texture figures from the residual after a small Gaussian
smoothing: its size relative to the image's spread (noise level), its correlation with the next pixel
(correlated noise from a reconstruction filter), how its size follows the local intensity (multiplicative,
speckle-like noise) and the mean gradient (blur).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

N_TEXTURE = 4


def intensity_histogram(images: np.ndarray, bins: int = 16) -> np.ndarray:
    """(N, H, W) -> (N, bins): the fraction of each image's pixels per bin, after scaling its 1st-99th
    percentile range to [0, 1] (values outside are clipped into the end bins)."""
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    lo, hi = np.percentile(x, [1.0, 99.0], axis=1, keepdims=True)
    scaled = np.clip((x - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)
    idx = np.minimum((scaled * bins).astype(np.int64), bins - 1)
    counts = np.zeros((len(x), bins))
    np.add.at(counts, (np.repeat(np.arange(len(x)), x.shape[1]), idx.ravel()), 1.0)
    return counts / x.shape[1]


def texture_statistics(images: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """(N, H, W) -> (N, 4): residual std / image std, the residual's lag-1 correlation (mean of the two
    axes), the correlation between |residual| and the smoothed intensity, mean gradient / image std."""
    x = np.asarray(images, dtype=np.float64)
    out = np.zeros((len(x), N_TEXTURE))
    for i, im in enumerate(x):
        spread = max(float(im.std()), 1e-12)
        smooth = ndimage.gaussian_filter(im, sigma)
        r = im - smooth
        r_std = max(float(r.std()), 1e-12)
        lag = 0.5 * (_corr(r[:, 1:], r[:, :-1]) + _corr(r[1:, :], r[:-1, :]))
        gy, gx = np.gradient(smooth)
        out[i] = (r_std / spread, lag, _corr(np.abs(r), smooth), float(np.hypot(gx, gy).mean()) / spread)
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / den if den > 0 else 0.0


def appearance_features(images: np.ndarray, bins: int = 16) -> np.ndarray:
    """(N, H, W) images -> (N, bins + 4): intensity histogram, then texture statistics."""
    x = np.asarray(images)
    if x.ndim != 3:
        raise ValueError(f"images must be (N, H, W), got shape {x.shape}")
    return np.concatenate([intensity_histogram(x, bins), texture_statistics(x)], axis=1)


def appearance_blocks(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split appearance_features' (N, bins + 4) output into (histogram (N, bins), texture (N, 4)), so that
    each can weigh as one block in `joint_embedding`."""
    f = np.asarray(features)
    if f.ndim != 2 or f.shape[1] <= N_TEXTURE:
        raise ValueError(f"need appearance features (N, bins + {N_TEXTURE}), got shape {f.shape}")
    return f[:, :-N_TEXTURE], f[:, -N_TEXTURE:]


def standardise(features: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per column over the rows, then scaled by 1 / sqrt(D), so that a block of
    D features adds on average 2 to a squared distance between two rows whatever D is (constant columns
    become 0)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {f.shape}")
    sd = f.std(axis=0)
    z = np.where(sd > 0, (f - f.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
    return z / np.sqrt(max(f.shape[1], 1))


def joint_embedding(*blocks: np.ndarray) -> np.ndarray:
    """Several (N, D_i) feature blocks -> (N, sum D_i), each standardised so that it weighs equally."""
    if not blocks:
        raise ValueError("need at least one block")
    return np.concatenate([standardise(b) for b in blocks], axis=1)
