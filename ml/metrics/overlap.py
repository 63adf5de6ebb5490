"""Overlap between binary masks: Dice and Jaccard.

Convention: two empty masks agree perfectly, so both metrics return 1.0 (nothing to segment, nothing
segmented). One empty and one non-empty mask give 0.0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} vs {b.shape}")
    return a, b


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """2|A and B| / (|A| + |B|) for boolean masks of any (equal) shape; 1.0 when both are empty."""
    a, b = _pair(a, b)
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(a, b).sum()) / total


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|A and B| / |A or B|; 1.0 when both are empty."""
    a, b = _pair(a, b)
    union = int(np.logical_or(a, b).sum())
    if union == 0:
        return 1.0
    return int(np.logical_and(a, b).sum()) / union


def dice_per_class(labels_a: np.ndarray, labels_b: np.ndarray, classes: Sequence[int]) -> dict[int, float]:
    """Dice of each class between two integer label maps, e.g. classes=(1, 2, 3) for LV, Myo, RV."""
    return {int(c): dice(labels_a == c, labels_b == c) for c in classes}
