"""Cartesian variable-density undersampling masks (whole phase-encode lines)."""

from __future__ import annotations

import numpy as np

# Width of the Gaussian sampling density, as a fraction of the number of phase-encode lines.
DENSITY_SIGMA = 0.25
# Density floor so that the highest frequencies are still sampled now and then.
DENSITY_FLOOR = 0.02


def line_density(n_lines: int, sigma: float = DENSITY_SIGMA, floor: float = DENSITY_FLOOR) -> np.ndarray:
    """Unnormalised Gaussian-like density over phase-encode lines, centred on line n_lines // 2. (H,)"""
    distance = np.arange(n_lines) - n_lines // 2
    return np.exp(-0.5 * (distance / (sigma * n_lines)) ** 2) + floor


def centre_line_indices(n_lines: int, centre_lines: int) -> np.ndarray:
    """Indices of the `centre_lines` fully sampled lines around the k-space centre (n_lines // 2)."""
    start = n_lines // 2 - centre_lines // 2
    return np.arange(start, start + centre_lines)


def lines_per_frame(n_frames: int, n_lines: int, acceleration: float, rng: np.random.Generator) -> np.ndarray:
    """How many lines each frame samples so that the whole cine meets `acceleration`. (T,) int"""
    total = max(1, round(n_frames * n_lines / acceleration))
    counts = np.full(n_frames, total // n_frames, dtype=np.int64)
    counts[rng.permutation(n_frames)[: total - counts.sum()]] += 1
    return counts


def cartesian_mask(
    shape: tuple[int, ...],
    acceleration: float,
    centre_lines: int = 8,
    seed: int = 0,
) -> np.ndarray:
    """Variable-density Cartesian mask sampling whole rows (phase-encode lines along H).

    shape: (H, W) or (T, H, W); returns float32 of that shape with values in {0, 1}. Each frame fully
    samples the `centre_lines` central rows and draws the others without replacement from a Gaussian
    density around the centre; every frame of a cine gets its own draw. The line count is set over the
    whole mask, so the achieved acceleration (all lines / sampled lines) is round-off close to the request
    (within 5 % once T * H / acceleration >= 10).
    """
    if len(shape) not in (2, 3):
        raise ValueError(f"shape must be (H, W) or (T, H, W), got {shape}")
    if acceleration < 1:
        raise ValueError(f"acceleration must be >= 1, got {acceleration}")
    frames, height, width = (1, *shape) if len(shape) == 2 else shape
    if not 0 <= centre_lines <= height:
        raise ValueError(f"centre_lines must be in [0, {height}], got {centre_lines}")
    rng = np.random.default_rng(seed)
    counts = lines_per_frame(frames, height, acceleration, rng)
    if counts.min() < centre_lines:
        raise ValueError(
            f"acceleration {acceleration} leaves {counts.min()} lines per frame, fewer than the "
            f"{centre_lines} centre lines"
        )
    centre = centre_line_indices(height, centre_lines)
    outer = np.setdiff1d(np.arange(height), centre)
    density = line_density(height)[outer]
    density /= density.sum()
    mask = np.zeros((frames, height, width), dtype=np.float32)
    for frame, count in enumerate(counts):
        chosen = rng.choice(outer, size=int(count) - centre_lines, replace=False, p=density)
        mask[frame, centre, :] = 1.0
        mask[frame, chosen, :] = 1.0
    return mask[0] if len(shape) == 2 else mask


def achieved_acceleration(mask: np.ndarray) -> float:
    """All phase-encode lines / sampled lines of a row mask (..., H, W)."""
    rows = mask.reshape(-1, mask.shape[-2], mask.shape[-1]).any(axis=-1)
    return float(rows.size / rows.sum())
